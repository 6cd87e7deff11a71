package testkit

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
)

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// fakeT records a Fatal instead of failing the real test, to test that a
// helper fails when it should.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeT) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fakeT) Errorf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
}
