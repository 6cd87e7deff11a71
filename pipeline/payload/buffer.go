package payload

import "bytes"

// bytesBuffer wraps data for reading without copying it.
func bytesBuffer(data []byte) *bytes.Buffer { return bytes.NewBuffer(data) }
