package scenario

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// The file format, as etcd raft's and pebble's datadriven tests write it:
//
//	# A comment explains what comes next (kept as is by -rewrite).
//	put node=1 key=b/k value=v1
//	----
//	ok
//
// A command is one line; its expected output follows a line "----" and
// ends at the first blank line (outputs never contain one). Lines starting
// with # and blank lines between commands are prose and kept.

// block is one piece of a file: prose (Cmd empty) or a command with its
// expected output.
type block struct {
	Line  int    // 1-based line of the command (or of the prose)
	Prose string // comment and blank lines, verbatim, newline-terminated
	Cmd   string
	Want  string // expected output, without a trailing newline
}

// parse reads a scenario file. With lenient (-rewrite), a command need not
// be followed by ---- and an output yet: a new command is written
// bare and -rewrite fills in its output.
func parse(path string, lenient bool) ([]block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out   []block
		lines []string
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i := 0; i < len(lines); {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			if n := len(out); n > 0 && out[n-1].Cmd == "" {
				out[n-1].Prose += l + "\n"
			} else {
				out = append(out, block{Line: i + 1, Prose: l + "\n"})
			}
			i++
			continue
		}
		b := block{Line: i + 1, Cmd: strings.TrimSpace(l)}
		i++
		if lenient && (i >= len(lines) || lines[i] != "----") {
			out = append(out, b)
			continue
		}
		if i >= len(lines) || lines[i] != "----" {
			return nil, fmt.Errorf("%s:%d: command %q is not followed by ----", path, b.Line, b.Cmd)
		}
		i++
		var want []string
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			want = append(want, lines[i])
			i++
		}
		b.Want = strings.Join(want, "\n")
		out = append(out, b)
	}
	return out, nil
}

// render writes the blocks back, with each command's output as given.
func render(blocks []block) string {
	var sb strings.Builder
	for i, b := range blocks {
		if b.Cmd == "" {
			sb.WriteString(b.Prose)
			continue
		}
		sb.WriteString(b.Cmd + "\n----\n")
		if b.Want != "" {
			sb.WriteString(b.Want + "\n")
		}
		// A command's output ends at a blank line: write one unless
		// prose (which starts with its own blank line or a comment)
		// follows.
		if i+1 < len(blocks) && (blocks[i+1].Cmd != "" || !strings.HasPrefix(blocks[i+1].Prose, "\n")) {
			sb.WriteString("\n")
		}
	}
	return sb.String()
}

// args are a command's arguments: positional words and key=value pairs.
type args struct {
	verb string
	pos  []string
	kv   map[string]string
	used map[string]bool
}

func parseArgs(cmd string) *args {
	f := strings.Fields(cmd)
	a := &args{verb: f[0], kv: map[string]string{}, used: map[string]bool{}}
	for _, w := range f[1:] {
		if k, v, ok := strings.Cut(w, "="); ok {
			a.kv[k] = v
		} else {
			a.pos = append(a.pos, w)
		}
	}
	return a
}

// get returns the value of key k ("" if absent) and marks it used.
func (a *args) get(k string) (string, bool) {
	v, ok := a.kv[k]
	a.used[k] = true
	return v, ok
}

// unused returns the keys no handler read, so that a typo fails.
func (a *args) unused() []string {
	var out []string
	for k := range a.kv {
		if !a.used[k] {
			out = append(out, k)
		}
	}
	return out
}
