package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

const checkUsage = `Usage: slicedns check --manifests DIR [--namespaces a,b] [--label-selector SEL]

Loads the manifests folder DIR once, as slicedns --manifests DIR would, and
prints every problem in it, one per line, in file order: a file that cannot
be read or parsed, or an object that cannot be served (a bad address, a
hostname that is not a DNS label, a slice without its Service label, ...),
each with its file and line. A last line counts the Services and
EndpointSlices served and the problems.

A folder with no Service and no EndpointSlice to serve is a problem too.
What is not read but may surprise (subfolders, v1 Endpoints, which a
cluster mirrors into slices and a folder cannot) is said on stderr.

The exit status is 0 when there is no problem, 1 when there is one (or DIR
cannot be read), and 2 for a bad command line: for CI. --namespaces and
--label-selector leave out what the server would leave out; the zone and
pod-record flags change names, not which objects are valid, so are not
taken.

Flags:
`

// checkConfig is the check command line.
type checkConfig struct {
	manifests     string
	namespaces    listFlag
	labelSelector string
}

// runCheck is `slicedns check`: 0 when the folder is served as written, 1
// when it has problems or cannot be read, 2 for a bad command line.
func runCheck(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseCheckFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "slicedns check: %v\n", err)
		return 2
	}
	// Each problem is printed below, once: the source's log lines would
	// only say the same again.
	src := &watch.Manifests{Dir: cfg.manifests, Sink: zone.New(), Logger: zap.New(checkNotes{checkLog(stderr)}),
		Namespaces: cfg.namespaces, LabelSelector: cfg.labelSelector}
	if err := src.Load(); err != nil {
		fmt.Fprintf(stderr, "slicedns check: --manifests: %v\n", err)
		return 1
	}
	problems := src.Problems()
	var b strings.Builder
	for _, p := range problems {
		b.WriteString(oneLine(p.Err.Error()) + "\n")
	}
	services, slices := src.Served()
	nothing := services == 0 && slices == 0 && len(problems) == 0
	if nothing {
		// An empty folder, or one whose manifests sit in subfolders: the
		// server would start and answer nothing.
		fmt.Fprintf(&b, "%s: no Service or EndpointSlice to serve (the folder's own *.yaml, *.yml and *.json files are read, not its subfolders)\n", cfg.manifests)
	}
	fmt.Fprintf(&b, "%s: %s, %s, %s\n", cfg.manifests, plural(services, "Service"), plural(slices, "EndpointSlice"),
		plural(len(problems)+b2i(nothing), "problem"))
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		fmt.Fprintf(stderr, "slicedns check: %v\n", err)
		return 1
	}
	if len(problems) > 0 || nothing {
		return 1
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkNotes passes on only the source's log lines that say what it does
// not read: its problems are printed from Problems, and the rest of its log
// would say them again.
type checkNotes struct{ zapcore.Core }

func (c checkNotes) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if strings.HasPrefix(e.Message, "skipping v1 Endpoints") || strings.HasPrefix(e.Message, "not reading a subfolder") {
		return c.Core.Check(e, ce)
	}
	return ce
}

func (c checkNotes) With(f []zapcore.Field) zapcore.Core { return checkNotes{c.Core.With(f)} }

// checkLog writes log lines to w as "LEVEL message key=value", without time.
func checkLog(w io.Writer) zapcore.Core {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.TimeKey, enc.CallerKey = "", ""
	return zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), zapcore.DebugLevel)
}

func parseCheckFlags(args []string, stderr io.Writer) (*checkConfig, error) {
	c := &checkConfig{}
	fs := flag.NewFlagSet("slicedns check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.manifests, "manifests", "", "the manifests `DIR` to check (*.yaml, *.yml, *.json at its top)")
	fs.Var(&c.namespaces, "namespaces", "only check these namespaces, as served with the same flag (comma-separated or repeated; default all)")
	fs.StringVar(&c.labelSelector, "label-selector", "", "only check Services matching this label `selector`, as served with the same flag")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, checkUsage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, fmt.Errorf("%v (see slicedns check -h)", err)
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q: give the folder as --manifests DIR (see slicedns check -h)", fs.Arg(0))
	case c.manifests == "":
		return nil, errors.New("nothing to check: give --manifests DIR (see slicedns check -h)")
	}
	if _, err := labels.Parse(c.labelSelector); err != nil {
		return nil, fmt.Errorf("--label-selector %q: %v", c.labelSelector, err)
	}
	return c, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
