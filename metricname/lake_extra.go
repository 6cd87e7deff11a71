package metricname

// Labels of the local lake, warehouse and fault-injection metrics.
const (
	// LabelPoint names a fault-injection point: "<from>><to>", e.g.
	// "enriched-good>pseudonymizer".
	LabelPoint = "point"
	// LabelAction is what fault injection did: drop or duplicate.
	LabelAction = "action"
)

// Local lake (the Firehose-like batch writer) and warehouse loader, beyond
// the object and row counters in pipeline.go.
var (
	LakeBytesWritten = define(Info{Name: "plowline_lake_bytes_written_total", Type: "counter",
		Help: "Compressed bytes the batch writer put to the object store, by prefix.", Labels: []string{LabelPrefix}})
	LakePutFailures = define(Info{Name: "plowline_lake_put_failures_total", Type: "counter",
		Help: "Failed object puts (each is retried until it succeeds or the writer is stopped), by prefix.", Labels: []string{LabelPrefix}})
	LakeBufferBytes = define(Info{Name: "plowline_lake_buffer_bytes", Type: "gauge",
		Help: "Bytes accepted by the batch writer and not yet in the object store, by prefix.", Labels: []string{LabelPrefix}})
	LakeBufferRecords = define(Info{Name: "plowline_lake_buffer_records", Type: "gauge",
		Help: "Records accepted by the batch writer and not yet in the object store, by prefix.", Labels: []string{LabelPrefix}})
	WarehouseRejectedLines = define(Info{Name: "plowline_warehouse_rejected_lines_total", Type: "counter",
		Help: "Lines of good objects that did not parse as a 131-field event and were loaded into the bad table as generic_error bad rows.", Labels: []string{LabelTable}})
	WarehouseLoadFailures = define(Info{Name: "plowline_warehouse_load_failures_total", Type: "counter",
		Help: "Objects whose load failed (retried on the next pass)."})
	WarehouseLastLoadTimestamp = define(Info{Name: "plowline_warehouse_last_load_timestamp_seconds", Type: "gauge",
		Help: "Unix time of the loader's last completed pass over the object store."})
	FaultRecords = define(Info{Name: "plowline_fault_records_total", Type: "counter",
		Help: "Records fault injection dropped or duplicated on purpose (plowline run --fault), by point and action.", Labels: []string{LabelPoint, LabelAction}})
)
