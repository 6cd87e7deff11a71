package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/plowline/plowline/pipeline/pseudonymize"
)

// exitRejected is the exit status of `plowline pseudonymize` when some
// lines could not be pseudonymized (they went to --rejects, or were
// reported on stderr by line number).
const exitRejected = 3

func init() {
	register(&command{
		name:    "pseudonymize",
		summary: "HMAC-pseudonymize enriched events and bad rows (stdin → stdout) by an allowlist",
		run:     runPseudonymize,
	})
}

func runPseudonymize(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("pseudonymize", "pseudonymize [--in FILE] [--out FILE] [--allowlist FILE] (--key-file FILE | --key-env NAME | --key-secret-id ID) [--rejects FILE]", stderr)
	in := fs.String("in", "", "read lines (enriched TSV events or bad-row JSON) from `FILE` instead of stdin")
	out := fs.String("out", "", "write pseudonymized lines to `FILE` instead of stdout")
	allow := fs.String("allowlist", "", "allowlist YAML `FILE` naming what stays in clear (default: the embedded default allowlist; see --print-allowlist)")
	keyFile := fs.String("key-file", "", "read the HMAC key from `FILE` (mode 0600: a file group or others can read is refused; surrounding whitespace trimmed)")
	keyEnv := fs.String("key-env", "", "read the HMAC key from the environment variable `NAME`")
	keySecret := fs.String("key-secret-id", "", "read the HMAC key from the AWS Secrets Manager secret `ID` (name or ARN; default AWS credentials and region)")
	rejects := fs.String("rejects", "", "append lines that cannot be pseudonymized to `FILE` as: line number, reason, original line (tab-separated; holds data in clear)")
	printAllow := fs.Bool("print-allowlist", false, "print the embedded default allowlist YAML and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: plowline pseudonymize [flags]

Replaces every value of each line that the allowlist does not name with the
lowercase hex HMAC-SHA256 of the value under a secret key. Lines are
enriched events (131-field TSV) or bad rows (self-describing JSON).
Exactly one key source is required; the key itself is never printed.
The key is the source's bytes with surrounding whitespace trimmed; a key
shorter than 32 bytes is used with a warning.

Exit status: 0 all lines pseudonymized; 3 some lines rejected (see
--rejects, or stderr for their numbers); 1 an I/O or key error; 2 bad flags.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *printAllow {
		_, err := stdout.Write(pseudonymize.DefaultAllowlistYAML())
		return err
	}
	a := pseudonymize.DefaultAllowlist()
	if *allow != "" {
		var err error
		if a, err = pseudonymize.LoadAllowlist(*allow); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--allowlist: %w", err)}
		}
	}
	src := pseudonymize.KeySource{File: *keyFile, Env: *keyEnv, SecretID: *keySecret}
	switch src.Sources() {
	case 0:
		return &exitError{code: 2, err: errors.New("no HMAC key: pass --key-file, --key-env or --key-secret-id")}
	case 1:
	default:
		return &exitError{code: 2, err: errors.New("HMAC key: pass exactly one of --key-file, --key-env, --key-secret-id")}
	}
	if src.File != "" {
		if err := pseudonymize.CheckKeyFile(src.File); err != nil {
			return err
		}
	}
	key, err := pseudonymize.LoadKey(ctx, src, nil)
	if err != nil {
		return err
	}
	if w := pseudonymize.KeyWarning(src, key); w != "" {
		fmt.Fprintln(stderr, "plowline pseudonymize: warning: "+w)
	}
	p, err := pseudonymize.New(a, key)
	if err != nil {
		return err
	}
	r, w := stdin, stdout
	if *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--in: %w", err)}
		}
		defer f.Close()
		r = f
	}
	var outFile *os.File
	if *out != "" {
		if outFile, err = os.Create(*out); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--out: %w", err)}
		}
		w = outFile
	}
	reject := func(n int, _ []byte, reason error) error {
		_, err := fmt.Fprintf(stderr, "plowline pseudonymize: line %d rejected: %v\n", n, reason)
		return err
	}
	if *rejects != "" {
		f, err := os.OpenFile(*rejects, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--rejects: %w", err)}
		}
		defer f.Close()
		reject = pseudonymize.RejectsTSV(f)
	}
	st, err := p.Stream(r, w, reject)
	if outFile != nil {
		if cerr := outFile.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing --out: %w", cerr)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "plowline pseudonymize: %d lines, %d pseudonymized, %d rejected\n", st.Lines, st.OK, st.Rejected)
	if st.Rejected > 0 {
		return &exitError{code: exitRejected}
	}
	return nil
}
