// Package nominicore stops gosnowflake from unpacking and loading its
// native "minicore" helper library at start-up (it writes a shared object
// to a temporary directory and dlopens it from its own init). The exporter
// needs none of it, and a static binary should not load native code.
//
// Go initialises packages in import-path order once their dependencies are
// ready, and this package (github.com/plowline/...) depends only on os, so
// its init runs before gosnowflake's (github.com/snowflakedb/...). An
// explicit SF_DISABLE_MINICORE in the environment is left as it is.
package nominicore

import "os"

func init() {
	if _, set := os.LookupEnv("SF_DISABLE_MINICORE"); !set {
		os.Setenv("SF_DISABLE_MINICORE", "true")
	}
}
