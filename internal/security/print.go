package security

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// column is a table column: its title and minimum width.
type column struct {
	title string
	width int
}

// table renders rows as riak_core_console_table does: borders of - and +,
// titles and cells centred (a spare space goes right), each column as
// wide as its widest line, multi-line cells spread over several lines.
// No rows, no table.
func table(cols []column, rows [][]string) string {
	if len(rows) == 0 {
		return ""
	}
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = c.width
		for _, r := range rows {
			for _, line := range strings.Split(r[i], "\n") {
				widths[i] = max(widths[i], utf8.RuneCountInString(line))
			}
		}
	}
	var b strings.Builder
	border := func() {
		b.WriteByte('+')
		for _, w := range widths {
			b.WriteString(strings.Repeat("-", w))
			b.WriteByte('+')
		}
		b.WriteByte('\n')
	}
	line := func(cells []string) {
		b.WriteByte('|')
		for i, c := range cells {
			b.WriteString(centre(c, widths[i]))
			b.WriteByte('|')
		}
		b.WriteByte('\n')
	}
	border()
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
	}
	line(titles)
	border()
	for _, r := range rows {
		var lines [][]string
		height := 0
		for _, cell := range r {
			ls := strings.FieldsFunc(cell, func(r rune) bool { return r == '\n' })
			lines = append(lines, ls)
			height = max(height, len(ls))
		}
		for j := range max(height, 1) {
			cells := make([]string, len(r))
			for i := range r {
				if j < len(lines[i]) {
					cells[i] = lines[i][j]
				}
			}
			line(cells)
		}
	}
	border()
	return b.String()
}

// centre pads s to width, the extra space of an odd padding on the right
// (Erlang's string:centre).
func centre(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if n >= width {
		return s
	}
	left := (width - n) / 2
	right := width - n - left
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", right)
}

// print wraps a table as riak-admin prints it: a blank line, the table, a
// blank line; with a header, the header and a blank line first.
func printTable(header string, cols []column, rows [][]string) string {
	t := table(cols, rows)
	if t == "" {
		return ""
	}
	if header != "" {
		return header + "\n\n" + t + "\n"
	}
	return "\n" + t + "\n"
}

// prettyList joins names as riak_core_security's prettyprint_permissions:
// sorted, packed into lines of about width characters; within a line the
// names come last-first, as Riak prints them.
func prettyList(names []string, width int) string {
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	var lines [][]string
	for _, n := range sorted {
		if len(lines) > 0 {
			cur := lines[len(lines)-1]
			l := 0
			for _, x := range cur {
				l += len(x)
			}
			if len(n)+l+2+2*len(cur) <= width {
				lines[len(lines)-1] = append([]string{n}, cur...)
				continue
			}
		}
		lines = append(lines, []string{n})
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.Join(l, ", ")
	}
	return strings.Join(out, ",\n")
}

// erlOptions renders options as Erlang's ~p renders a proplist of
// strings: [{"key","value"}].
func erlOptions(opts []Option) string {
	parts := make([]string, len(opts))
	for i, o := range opts {
		parts[i] = "{" + strconv.Quote(o.Key) + "," + strconv.Quote(o.Value) + "}"
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (sn *snapshot) existingGroups(gs []string) []string {
	var out []string
	for _, g := range gs {
		if _, ok := sn.groups[g]; ok {
			out = append(out, g)
		}
	}
	return out
}

// PrintUsers is print-users (one user: print-user NAME).
func (s *Service) PrintUsers(only string) (string, error) {
	sn := s.current()
	names := make([]string, 0, len(sn.users))
	for n := range sn.users {
		names = append(names, n)
	}
	if only != "" {
		only = roleName(only)
		if _, ok := sn.users[only]; !ok {
			return "", cmdErr("User not recognized: %s", only)
		}
		names = []string{only}
	}
	slices.Sort(names)
	var rows [][]string
	for _, n := range names {
		u := sn.users[n]
		rows = append(rows, []string{n, prettyList(sn.existingGroups(u.Groups), 20), u.Password, erlOptions(u.Options)})
	}
	return printTable("", []column{{"username", 10}, {"member of", 15}, {"password", 40}, {"options", 30}}, rows), nil
}

// PrintGroups is print-groups (one group: print-group NAME).
func (s *Service) PrintGroups(only string) (string, error) {
	sn := s.current()
	names := make([]string, 0, len(sn.groups))
	for n := range sn.groups {
		names = append(names, n)
	}
	if only != "" {
		only = roleName(only)
		if _, ok := sn.groups[only]; !ok {
			return "", cmdErr("Group not recognized: %s", only)
		}
		names = []string{only}
	}
	slices.Sort(names)
	var rows [][]string
	for _, n := range names {
		g := sn.groups[n]
		rows = append(rows, []string{n, prettyList(sn.existingGroups(g.Groups), 20), erlOptions(g.Options)})
	}
	return printTable("", []column{{"group", 10}, {"member of", 15}, {"options", 30}}, rows), nil
}

// PrintSources is print-sources: sources with the same CIDR, kind and
// options share a row; rows in matching order.
func (s *Service) PrintSources() string {
	sn := s.current()
	type group struct {
		users []string
		src   source
	}
	var groups []*group
	idx := map[string]*group{}
	for _, src := range sn.sources {
		k := src.Prefix.String() + " " + src.Source + " " + erlOptions(src.Options) + " " + strconv.FormatBool(src.User == All)
		g := idx[k]
		if g == nil {
			g = &group{src: src}
			idx[k] = g
			groups = append(groups, g)
		}
		g.users = append(g.users, src.User)
	}
	var rows [][]string
	for _, g := range groups {
		users := "all"
		if g.src.User != All {
			users = prettyList(g.users, 20)
		}
		rows = append(rows, []string{users, g.src.Prefix.String(), g.src.Source, erlOptions(g.src.Options)})
	}
	return printTable("", []column{{"users", 20}, {"cidr", 10}, {"source", 10}, {"options", 10}}, rows)
}

func bucketCells(b Bucket) []string {
	switch {
	case b.Any:
		return []string{"*", "*"}
	case b.Bucket == "":
		return []string{b.Type, "*"}
	}
	return []string{b.Type, b.Bucket}
}

// PrintGrants is print-grants NAME: for a user or a group, the
// permissions it inherits, those granted to it, and the sum.
func (s *Service) PrintGrants(name string) (string, error) {
	name = roleName(name)
	sn := s.current()
	var kinds []string
	switch {
	case strings.HasPrefix(name, "user/"):
		name, kinds = strings.TrimPrefix(name, "user/"), []string{"user"}
	case strings.HasPrefix(name, "group/"):
		name, kinds = strings.TrimPrefix(name, "group/"), []string{"group"}
	default:
		kinds = []string{"user", "group"}
	}
	var out strings.Builder
	found := false
	for _, kind := range kinds {
		if kind == "user" {
			if _, ok := sn.users[name]; !ok {
				continue
			}
		} else if _, ok := sn.groups[name]; !ok && name != All {
			continue
		}
		found = true
		out.WriteString(s.printGrants(sn, name, kind))
	}
	if !found {
		if len(kinds) == 1 {
			return "", cmdErr("%s not recognized: %s", map[string]string{"user": "User", "group": "Group"}[kinds[0]], name)
		}
		return "", cmdErr("Name not recognized: %s", name)
	}
	return out.String(), nil
}

func (s *Service) printGrants(sn *snapshot, name, kind string) string {
	me := kind + "/" + name
	grants := sn.grantsOf(name, kind)
	slices.SortStableFunc(grants, func(a, b roleGrant) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(grantKey("", a.Bucket), grantKey("", b.Bucket))
	})
	var inherited, dedicated [][]string
	merged := map[Bucket][]string{}
	var order []Bucket
	for _, g := range grants {
		cells := bucketCells(g.Bucket)
		perms := prettyList(g.Perms, 40)
		if g.From == me {
			dedicated = append(dedicated, []string{cells[0], cells[1], perms})
		} else {
			inherited = append(inherited, []string{strings.SplitN(g.From, "/", 2)[1], cells[0], cells[1], perms})
		}
		if _, ok := merged[g.Bucket]; !ok {
			order = append(order, g.Bucket)
		}
		for _, p := range g.Perms {
			if !slices.Contains(merged[g.Bucket], p) {
				merged[g.Bucket] = append(merged[g.Bucket], p)
			}
		}
	}
	var cumulative [][]string
	for _, b := range order {
		cells := bucketCells(b)
		cumulative = append(cumulative, []string{cells[0], cells[1], prettyList(merged[b], 40)})
	}
	return printTable(fmt.Sprintf("Inherited permissions (%s)", me), []column{{"group", 20}, {"type", 10}, {"bucket", 10}, {"grants", 40}}, inherited) +
		printTable(fmt.Sprintf("Dedicated permissions (%s)", me), []column{{"type", 10}, {"bucket", 10}, {"grants", 40}}, dedicated) +
		printTable(fmt.Sprintf("Cumulative permissions (%s)", me), []column{{"type", 10}, {"bucket", 10}, {"grants", 40}}, cumulative)
}
