// Command plowline runs and watches a Snowplow-style product-analytics
// pipeline: the collector, enricher and pseudonymizer (as processes or as AWS
// Lambda functions), the whole pipeline locally (`plowline run`), and the
// reconciling exporter with its dashboards and alerts.
//
// This package only parses flags and wires packages together; each
// subcommand lives in its own file and registers itself in init.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string
	// run executes the subcommand with the arguments after its name. It
	// returns the process exit status; errors are printed by run itself or
	// returned as usageError / plain errors for main to print.
	run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

// register adds a subcommand; called from init functions.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("plowline: subcommand registered twice: " + c.name)
	}
	commands[c.name] = c
}

// exitError carries a specific exit status out of a subcommand, e.g. the
// status `pseudonymize` uses to say some lines were rejected.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintf(stdout, "plowline %s\n", version)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "plowline: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.run(ctx, args[1:], stdin, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "plowline %s: %v\n", c.name, ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "plowline %s: %v\n", c.name, err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "plowline %s: run and watch a Snowplow-style analytics pipeline.\n\nUsage: plowline <command> [flags]\n\nCommands:\n", version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "  %-14s %s\n", "version", "print the version")
	fmt.Fprintf(w, "\nRun 'plowline <command> --help' for a command's flags.\n")
}

// newFlagSet returns a flag set that prints its usage to stderr and reports
// parse errors as errors rather than exiting, so tests can drive main.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("plowline "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: plowline %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}
