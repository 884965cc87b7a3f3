fn main() {
    std::process::exit(shakedown::cli::main());
}
