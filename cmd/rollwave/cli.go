package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/rollwave/rollwave/shared/version"
)

// Exit codes, a contract with scripts (documented in `rollwave help` and docs/operations.md).
const (
	exitOK       = 0 // the operation succeeded
	exitFailed   = 1 // the operation failed (AWS error, a message not redriven, ...)
	exitUsage    = 2 // the command line is wrong: unknown verb or flag, missing or bad argument
	exitNotFound = 3 // the cluster, instance, queue or message named does not exist
)

// exitError carries the exit code of an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func notFoundf(format string, args ...any) error {
	return &exitError{code: exitNotFound, err: fmt.Errorf(format, args...)}
}

// codeOf maps an error to the exit code.
func codeOf(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitFailed
}

// app is one invocation of the CLI: its streams, its environment and the global settings.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	profile, region, prefix, eventBus string

	clients *clients // built on first use

	// introspect makes parse record the command's flag set in flags and stop before the
	// command does anything (flagsOf).
	introspect bool
	flags      *flag.FlagSet

	// out is the command's output flags (outputFlags), which parse checks once parsed.
	out *output
}

// errIntrospected stops a command once parse has recorded its flags.
var errIntrospected = errors.New("flags recorded")

// flagsOf returns the flags command c defines, its own and the global ones, without running it:
// every command defines its flags and calls parse before anything else.
func flagsOf(c command) *flag.FlagSet {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, introspect: true}
	_ = c.run(context.Background(), a, c, nil) // introspect: it stops once its flags are defined
	return a.flags
}

// command is one verb (or "jobs send", "dlq show", ...).
type command struct {
	name    string
	summary string
	usage   string // the arguments after the name
	help    string // what it does and examples
	run     func(ctx context.Context, a *app, c command, args []string) error
}

var commands []command

func init() {
	commands = []command{
		statusCommand, jobsListCommand, jobsDescribeCommand, jobsSendCommand,
		dlqListCommand, dlqShowCommand, dlqRedriveCommand, dlqPurgeCommand,
		pauseCommand, resumeCommand, scanCommand, instancesReleaseCommand, planCommand, reportCommand, completionCommand,
	}
}

const overview = `rollwave: see and steer the rollwave pipeline that updates Bottlerocket ECS instances.

Usage:
  rollwave [global flags] <command> [flags] [arguments]

Commands:
%s
Global flags (accepted before or after the command):
  --profile NAME   AWS shared config profile (default: $AWS_PROFILE, then the default chain)
  --region NAME    AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile's)
  --prefix NAME    prefix of rollwave's queues and documents (default: $ROLLWAVE_PREFIX or rollwave)
  --event-bus NAME EventBridge bus of the pipeline events (default: $ROLLWAVE_EVENT_BUS or default)
  --version        print rollwave's version and exit (before the command only)

Endpoints come from the standard variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS,
AWS_ENDPOINT_URL_ECS, ...), so the same commands work against LocalStack or moto.

Exit codes:
  0  success
  1  the operation failed (an AWS error, a message that could not be redriven)
  2  usage error (unknown command or flag, missing or invalid argument)
  3  not found (the cluster, instance, queue or message does not exist)

Run 'rollwave help <command>' for a command's flags and examples.
`

func printOverview(w io.Writer) {
	var b strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-18s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(&b, "  %-18s %s\n", "help", "this text, or a command's help: rollwave help dlq redrive")
	fmt.Fprintf(w, overview, b.String())
}

// run is the whole CLI: it parses args, runs the command and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	err := a.dispatch(ctx, args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	code := codeOf(err)
	fmt.Fprintf(stderr, "rollwave: %v\n", err)
	if code == exitUsage {
		fmt.Fprintln(stderr, "Run 'rollwave help' for usage.")
	}
	return code
}

func (a *app) dispatch(ctx context.Context, args []string) error {
	global := flag.NewFlagSet("rollwave", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	a.globalFlags(global)
	showVersion := global.Bool("version", false, "print the version and exit")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printOverview(a.stdout)
			return err
		}
		return usagef("%v", err)
	}
	if *showVersion {
		_, err := fmt.Fprintln(a.stdout, version.Get().Line("rollwave"))
		return err
	}
	rest := global.Args()
	if len(rest) == 0 {
		printOverview(a.stderr)
		return usagef("no command given")
	}
	if rest[0] == "help" {
		if len(rest) == 1 {
			printOverview(a.stdout)
			return nil
		}
		c, _, ok := find(rest[1:])
		if !ok && len(rest) == 2 {
			if group := subcommands(rest[1]); len(group) > 0 {
				_, err := fmt.Fprintf(a.stdout, "rollwave %s: the commands are %s; rollwave help %s for one's usage\n", rest[1], strings.Join(group, ", "), group[0])
				return err
			}
		}
		if !ok {
			return usagef("no command %q", strings.Join(rest[1:], " "))
		}
		return c.run(ctx, a, c, []string{"-h"}) // prints the help and the flags
	}
	c, cargs, ok := find(rest)
	if !ok {
		if group := subcommands(rest[0]); len(group) > 0 {
			if len(rest) == 1 || strings.HasPrefix(rest[1], "-") {
				return usagef("%s needs a subcommand: %s", rest[0], strings.Join(group, ", "))
			}
			return usagef("unknown command %q; the %s commands are %s", rest[0]+" "+rest[1], rest[0], strings.Join(group, ", "))
		}
		return usagef("unknown command %q; the commands are %s", strings.Join(rest[:min(2, len(rest))], " "), commandNames())
	}
	return c.run(ctx, a, c, cargs)
}

// find returns the command named by the first one or two words of args and the arguments
// after its name.
func find(args []string) (command, []string, bool) {
	for _, n := range []int{2, 1} {
		if len(args) < n {
			continue
		}
		name := strings.Join(args[:n], " ")
		for _, c := range commands {
			if c.name == name {
				return c, args[n:], true
			}
		}
	}
	return command{}, nil, false
}

// subcommands returns the commands of the group word ("jobs": jobs describe, jobs list, ...),
// sorted, or none when word names no group.
func subcommands(word string) []string {
	var names []string
	for _, c := range commands {
		if strings.HasPrefix(c.name, word+" ") {
			names = append(names, c.name)
		}
	}
	sort.Strings(names)
	return names
}

func commandNames() string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func printHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: rollwave %s %s\n\n%s\n", c.name, c.usage, strings.TrimSpace(c.help))
	fmt.Fprintln(w)
}

func (a *app) globalFlags(fs *flag.FlagSet) {
	def := func(v, env, fallback string) string {
		if v != "" {
			return v
		}
		if e := strings.TrimSpace(a.getenv(env)); e != "" {
			return e
		}
		return fallback
	}
	fs.StringVar(&a.profile, "profile", a.profile, "AWS shared config profile")
	fs.StringVar(&a.region, "region", a.region, "AWS region")
	fs.StringVar(&a.prefix, "prefix", def(a.prefix, "ROLLWAVE_PREFIX", "rollwave"), "prefix of rollwave's queues")
	fs.StringVar(&a.eventBus, "event-bus", def(a.eventBus, "ROLLWAVE_EVENT_BUS", "default"), "EventBridge bus of the pipeline events")
}

// outputFlags defines the command's -o/--output and --query flags, which parse checks.
func (a *app) outputFlags(fs *flag.FlagSet) *output {
	a.out = outputFlags(fs)
	return a.out
}

// parse parses a command's flags, which may come before, between and after its positional
// arguments, and returns the positional arguments; a bad -o or --query is a usage error. -h
// prints the command's help.
func (a *app) parse(c command, fs *flag.FlagSet, args []string) ([]string, error) {
	positional, err := a.parseFlags(c, fs, args)
	if err != nil || a.out == nil {
		return positional, err
	}
	return positional, a.out.check()
}

func (a *app) parseFlags(c command, fs *flag.FlagSet, args []string) ([]string, error) {
	a.globalFlags(fs)
	fs.SetOutput(io.Discard)
	if a.introspect {
		a.flags = fs
		return nil, errIntrospected
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printHelp(a.stdout, c)
				printFlags(a.stdout, fs)
				return nil, err
			}
			return nil, usagef("%s: %v", c.name, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// globalNames are the flags every command accepts (globalFlags).
var globalNames = map[string]bool{"profile": true, "region": true, "prefix": true, "event-bus": true}

// flagName is a flag as the usage lines and the lists spell it: -o, --cluster.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// printFlags lists the command's own flags, then the global ones, each once with its default
// when it has one. -o and --output, one setting, are one line.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		name := flagName(f.Name)
		if f.Name == "o" {
			name = "-o, --output"
			arg = "FORMAT"
		}
		if arg != "" {
			name += " " + strings.ToUpper(arg)
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			usage += " (default " + d + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	}
	fmt.Fprintln(w, "Flags:")
	fs.VisitAll(func(f *flag.Flag) {
		if !globalNames[f.Name] && f.Name != "output" {
			line(f)
		}
	})
	tw.Flush()
	fmt.Fprintln(w, "Global flags:")
	fs.VisitAll(func(f *flag.Flag) {
		if globalNames[f.Name] {
			line(f)
		}
	})
	tw.Flush()
}

// stringList is a flag that may be repeated and takes comma-separated values.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// isTerminal reports whether r (a stream) is a terminal, for questions to a person and for
// redrawing in place. /dev/null is a
// character device but not a terminal, so this asks the terminal driver.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// who is the default --requested-by: $USER, else "rollwave-cli".
func (a *app) who() string {
	if u := strings.TrimSpace(a.getenv("USER")); u != "" {
		return u
	}
	return "rollwave-cli"
}

// noArgs refuses positional arguments.
// parseNoArgs parses the flags of a command that takes no positional arguments, and refuses any.
func (a *app) parseNoArgs(c command, fs *flag.FlagSet, args []string) error {
	args, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	return noArgs(c, args)
}

func noArgs(c command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", c.name, strings.Join(args, " "))
	}
	return nil
}
