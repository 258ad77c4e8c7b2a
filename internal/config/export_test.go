package config

// ExpandEnv exposes expandEnv to the black-box tests.
var ExpandEnv = expandEnv
