// Package pseudonymizefn is the pseudonymizer as an Amazon Data Firehose
// data-transformation function: Start wires it from the environment and
// Pseudonymize answers a batch record by record. Logic lives in
// pipeline/pseudonymize.
package pseudonymizefn
