package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/lake"
	"github.com/plowline/plowline/pipeline/local"
)

func TestQueryFormatsAndRefusals(t *testing.T) {
	dir := t.TempDir()
	wh, err := lake.OpenWarehouse(filepath.Join(dir, local.WarehouseFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wh.DB.Exec(`INSERT INTO gitlab_bad_events (jsontext, uploaded_at) VALUES ('{"a":"x,y"}', NULL), ('tab	and
newline', '2026-11-26 18:00:00.000')`); err != nil {
		t.Fatal(err)
	}
	wh.Close()
	q := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := runMain(append([]string{"query", "--data-dir", dir}, args...), nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	const sql = "SELECT jsontext, uploaded_at FROM gitlab_bad_events ORDER BY rowid"

	code, out, errOut := q("--format", "json", sql)
	var rows []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 || rows[0]["uploaded_at"] != nil || rows[1]["jsontext"] != "tab\tand\nnewline" {
		t.Errorf("json: exit %d, %q, %s", code, out, errOut)
	}
	// Flags may follow the statement.
	code, out, _ = q(sql, "--format", "csv")
	if code != 0 || !strings.HasPrefix(out, "jsontext,uploaded_at\n\"{\"\"a\"\":\"\"x,y\"\"}\",\n") {
		t.Errorf("csv: exit %d, %q", code, out)
	}
	code, out, _ = q(sql)
	if code != 0 || !strings.Contains(out, "NULL") || !strings.Contains(out, "tab and newline") || !strings.HasSuffix(out, "(2 rows)\n") {
		t.Errorf("table: exit %d, %q", code, out)
	}
	if code, _, errOut = q("DELETE FROM gitlab_bad_events"); code == 0 {
		t.Error("a DELETE went through the read-only connection")
	}
	if code, _, errOut = q("--format", "xml", sql); code != 2 || !strings.Contains(errOut, `--format "xml"`) {
		t.Errorf("bad format: exit %d, %s", code, errOut)
	}
	if code, _, errOut = q(); code != 2 || !strings.Contains(errOut, "exactly one SQL statement") {
		t.Errorf("no statement: exit %d, %s", code, errOut)
	}
	var stderr bytes.Buffer
	if code := runMain([]string{"query", "--data-dir", filepath.Join(dir, "nope"), "SELECT 1"}, nil, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "no warehouse at") {
		t.Errorf("missing warehouse: exit %d, %s", code, stderr.String())
	}
	if code, out, _ = q(sql); code != 0 {
		t.Errorf("rows vanished or query broke after the refused DELETE: %q", out)
	}
}
