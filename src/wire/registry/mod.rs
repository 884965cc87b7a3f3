//! IANA registries, one table each: cipher suites, named groups, signature schemes,
//! extension types, alert descriptions. Lookup by id, IANA name or OpenSSL name.
