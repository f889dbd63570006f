package kv_test

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// Listing (ListKeys, ListBuckets) and secondary indexes through the
// Service: entries maintained with the object, queries merged across
// partitions, pagination. The entry encoding itself is tested in
// index_test.go.

// entries builds index entries from field/value pairs.
func entries(pairs ...string) []siblings.IndexEntry {
	var out []siblings.IndexEntry
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, siblings.IndexEntry{Field: pairs[i], Value: pairs[i+1]})
	}
	return out
}

// putIdx writes v with the given index entries (field/value pairs).
func (e *env) putIdx(k kv.Key, v string, ctx vclock.VClock, pairs ...string) *siblings.Object {
	e.t.Helper()
	meta := siblings.Meta{ContentType: "text/plain", Indexes: entries(pairs...)}
	o, err := e.svc.Put(bg, k, []byte(v), meta, ctx, kv.Options{ReturnBody: true})
	if err != nil {
		e.t.Fatalf("Put(%s, %q, %v): %v", k, v, pairs, err)
	}
	return o
}

// queryErr runs q and returns every result, the continuation and the
// error, checking that each emitted chunk is non-empty and at most 1000.
func (e *env) queryErr(q kv.IndexQuery) ([]kv.IndexResult, string, error) {
	e.t.Helper()
	var out []kv.IndexResult
	cont, err := e.svc.Query(bg, q, func(c []kv.IndexResult) error {
		if len(c) == 0 || len(c) > 1000 {
			e.t.Errorf("Query %+v emitted a chunk of %d results", q, len(c))
		}
		out = append(out, c...)
		return nil
	})
	return out, cont, err
}

func (e *env) query(q kv.IndexQuery) ([]kv.IndexResult, string) {
	e.t.Helper()
	res, cont, err := e.queryErr(q)
	if err != nil {
		e.t.Fatalf("Query %+v: %v", q, err)
	}
	return res, cont
}

// queryKeys runs q (no pagination) and returns the keys found.
func (e *env) queryKeys(q kv.IndexQuery) []string {
	e.t.Helper()
	res, cont := e.query(q)
	if cont != "" {
		e.t.Errorf("Query %+v without max_results returned continuation %q", q, cont)
	}
	keys := []string{}
	for _, r := range res {
		keys = append(keys, r.Key)
	}
	return keys
}

func exact(bucket, field, term string) kv.IndexQuery {
	return kv.IndexQuery{Type: kv.DefaultType, Bucket: bucket, Field: field, Start: term, End: term}
}

func between(bucket, field, start, end string) kv.IndexQuery {
	return kv.IndexQuery{Type: kv.DefaultType, Bucket: bucket, Field: field, Start: start, End: end, Range: true}
}

// indexEntries counts the entries in every partition's index space.
func (e *env) indexEntries() int {
	e.t.Helper()
	n := 0
	for p := 0; p < e.ring.Size(); p++ {
		it, err := e.eng.NewIterator(storage.SpaceIndex, storage.Partition(p), nil, nil)
		if err != nil {
			e.t.Fatal(err)
		}
		for it.Next() {
			n++
		}
		if err := it.Err(); err != nil {
			e.t.Fatal(err)
		}
		it.Close()
	}
	return n
}

// listKeys returns a bucket's keys, sorted, checking chunk sizes.
func (e *env) listKeys(typ, bucket string) []string {
	e.t.Helper()
	keys := []string{}
	err := e.svc.ListKeys(bg, typ, bucket, func(c []string) error {
		if len(c) == 0 || len(c) > 1000 {
			e.t.Errorf("ListKeys(%s, %s) emitted a chunk of %d keys", typ, bucket, len(c))
		}
		keys = append(keys, c...)
		return nil
	})
	if err != nil {
		e.t.Fatalf("ListKeys(%s, %s): %v", typ, bucket, err)
	}
	slices.Sort(keys)
	return keys
}

func (e *env) listBuckets(typ string) []string {
	e.t.Helper()
	out := []string{}
	err := e.svc.ListBuckets(bg, typ, func(c []string) error {
		out = append(out, c...)
		return nil
	})
	if err != nil {
		e.t.Fatalf("ListBuckets(%s): %v", typ, err)
	}
	return out
}

func wantKeys(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func TestIndexEntriesFollowTheObject(t *testing.T) {
	t.Run("update replaces the entries", func(t *testing.T) {
		e := newEnv(t)
		k := key("people", "ann")
		o := e.putIdx(k, "v1", nil, "age_int", "30", "name_bin", "ann")
		if n := e.indexEntries(); n != 6 {
			t.Errorf("after the first write: %d index entries, want 2 per replica (6)", n)
		}
		wantKeys(t, "age_int=30", e.queryKeys(exact("people", "age_int", "30")), "ann")
		wantKeys(t, "name_bin=ann", e.queryKeys(exact("people", "name_bin", "ann")), "ann")

		e.putIdx(k, "v2", o.Clock, "age_int", "31")
		wantKeys(t, "age_int=30 after update", e.queryKeys(exact("people", "age_int", "30")))
		wantKeys(t, "age_int=31 after update", e.queryKeys(exact("people", "age_int", "31")), "ann")
		wantKeys(t, "name_bin=ann after update", e.queryKeys(exact("people", "name_bin", "ann")))
		if n := e.indexEntries(); n != 3 {
			t.Errorf("after the update: %d index entries, want 3", n)
		}
	})

	t.Run("every live sibling is indexed", func(t *testing.T) {
		e := newEnv(t)
		e.setProps("m", map[string]any{"allow_mult": true})
		k := key("m", "k")
		e.putIdx(k, "a", nil, "color_bin", "red")
		o := e.putIdx(k, "b", nil, "color_bin", "blue", "color_bin", "red")
		if len(o.Siblings) != 2 {
			t.Fatalf("two blind writes: %s, want two siblings", describe(o))
		}
		wantKeys(t, "red", e.queryKeys(exact("m", "color_bin", "red")), "k")
		wantKeys(t, "blue", e.queryKeys(exact("m", "color_bin", "blue")), "k")
		wantKeys(t, "the range red..red with both siblings holding red", e.queryKeys(between("m", "color_bin", "red", "red")), "k")
		if n := e.indexEntries(); n != 6 {
			t.Errorf("two siblings sharing a term: %d entries, want 2 distinct per replica (6)", n)
		}
		// Resolving the siblings drops the entries only the losers had.
		e.putIdx(k, "c", o.Clock, "color_bin", "green")
		wantKeys(t, "red after resolving", e.queryKeys(exact("m", "color_bin", "red")))
		wantKeys(t, "blue after resolving", e.queryKeys(exact("m", "color_bin", "blue")))
		wantKeys(t, "green after resolving", e.queryKeys(exact("m", "color_bin", "green")), "k")
	})

	t.Run("a tombstone sibling contributes none", func(t *testing.T) {
		e := newEnv(t)
		e.setProps("m", map[string]any{"allow_mult": true})
		k := key("m", "k")
		base := e.putIdx(k, "v", nil, "x_bin", "live")
		dead := siblings.Sibling{Value: []byte{}, Meta: siblings.Meta{Deleted: true, VTag: "del", Indexes: entries("x_bin", "dead")}}
		mixed := &siblings.Object{Clock: base.Clock, Siblings: []siblings.Sibling{base.Siblings[0], dead}}
		for _, v := range e.vnodes(k) {
			if err := v.StoreForTest(k, mixed); err != nil {
				t.Fatal(err)
			}
		}
		wantKeys(t, "the live sibling's term", e.queryKeys(exact("m", "x_bin", "live")), "k")
		wantKeys(t, "the tombstone sibling's term", e.queryKeys(exact("m", "x_bin", "dead")))
		if n := e.indexEntries(); n != 3 {
			t.Errorf("live + tombstone sibling: %d entries, want 3 (the live one's)", n)
		}
	})

	t.Run("delete removes the entries; reaping keeps it that way", func(t *testing.T) {
		e := newEnv(t)
		k := key("b", "k")
		e.putIdx(k, "v", nil, "n_int", "1", "s_bin", "x")
		e.putIdx(key("b", "other"), "v", nil, "n_int", "1")
		if err := e.svc.Delete(bg, k, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
		e.settle()
		for j, r := range e.replicas(k) {
			if !r.IsTombstone() {
				t.Fatalf("replica %d: %s, want the unreaped tombstone", j, describe(r))
			}
		}
		wantKeys(t, "n_int=1 after delete", e.queryKeys(exact("b", "n_int", "1")), "other")
		wantKeys(t, "s_bin=x after delete", e.queryKeys(exact("b", "s_bin", "x")))
		if n := e.indexEntries(); n != 3 {
			t.Errorf("after delete: %d entries, want only other's 3", n)
		}
		// Key listing still shows the unreaped tombstone (as Riak does);
		// $bucket follows the data space too.
		wantKeys(t, "ListKeys before the reap", e.listKeys(kv.DefaultType, "b"), "k", "other")
		wantKeys(t, "$bucket before the reap", e.queryKeys(exact("b", "$bucket", "_")), "k", "other")

		e.clk.Advance(3 * time.Second)
		for j, r := range e.replicas(k) {
			if r != nil {
				t.Fatalf("replica %d after 3 s: %s, want reaped", j, describe(r))
			}
		}
		if n := e.indexEntries(); n != 3 {
			t.Errorf("after the reap: %d entries, want 3", n)
		}
		wantKeys(t, "ListKeys after the reap", e.listKeys(kv.DefaultType, "b"), "other")
		wantKeys(t, "$bucket after the reap", e.queryKeys(exact("b", "$bucket", "_")), "other")
	})

	t.Run("a reaped key with entries loses them", func(t *testing.T) {
		// A tombstone stored behind the vnode's back over an indexed value
		// (as replication of a delete does) removes its entries, and the
		// reap leaves none behind.
		e := newEnv(t, func(c *kv.Config) { c.DeleteMode = kv.DeleteMode{Immediate: true} })
		k := key("b", "k")
		o := e.putIdx(k, "v", nil, "n_int", "7")
		for _, v := range e.vnodes(k) {
			if err := v.StoreForTest(k, tomb(o.Clock)); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.indexEntries(); n != 0 {
			t.Errorf("tombstones stored over the value: %d entries, want 0", n)
		}
		for _, v := range e.vnodes(k) {
			v.Reap(k, kv.DeleteMode{Immediate: true})
		}
		if n := e.indexEntries(); n != 0 {
			t.Errorf("after the reap: %d entries, want 0", n)
		}
		wantKeys(t, "n_int=7", e.queryKeys(exact("b", "n_int", "7")))
	})
}

func TestIndexQueryEachKeyOnce(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := 0; i < 60; i++ {
		k := fmt.Sprintf("k%02d", i)
		want = append(want, k)
		e.putIdx(key("b", k), "v", nil, "g_bin", "same", "n_int", strconv.Itoa(i%5))
	}
	if n := e.indexEntries(); n != 60*2*3 {
		t.Fatalf("%d index entries, want 360 (n_val 3 replicas of 2 entries of 60 keys)", n)
	}
	wantKeys(t, "g_bin=same", e.queryKeys(exact("b", "g_bin", "same")), want...)
	wantKeys(t, "$bucket", e.queryKeys(exact("b", "$bucket", "_")), want...)
	got := e.queryKeys(between("b", "n_int", "0", "4"))
	if len(got) != 60 {
		t.Errorf("n_int 0..4: %d results, want 60", len(got))
	}
	seen := map[string]bool{}
	for _, k := range got {
		if seen[k] {
			t.Errorf("n_int 0..4: %s reported twice", k)
		}
		seen[k] = true
	}
}

func TestIndexQueryIntegers(t *testing.T) {
	e := newEnv(t)
	terms := map[string]int64{
		"min": math.MinInt64, "m5": -5, "m1": -1, "zero": 0, "p1": 1, "p5": 5, "max": math.MaxInt64,
		"m1b": -1, "p1b": 1,
	}
	for k, n := range terms {
		e.putIdx(key("b", k), "v", nil, "n_int", strconv.FormatInt(n, 10))
	}
	// A neighbouring bucket and field must not leak in.
	e.putIdx(key("bb", "x"), "v", nil, "n_int", "0")
	e.putIdx(key("b", "y"), "v", nil, "n2_int", "0")

	res, _ := e.query(between("b", "n_int", "-1", "1"))
	got := make([]string, len(res))
	for i, r := range res {
		got[i] = r.Term + "/" + r.Key
	}
	wantKeys(t, "range -1..1 (inclusive, sorted by term then key)", got, "-1/m1", "-1/m1b", "0/zero", "1/p1", "1/p1b")

	res, _ = e.query(between("b", "n_int", strconv.FormatInt(math.MinInt64, 10), strconv.FormatInt(math.MaxInt64, 10)))
	got = got[:0]
	for _, r := range res {
		got = append(got, r.Term+"/"+r.Key)
	}
	wantKeys(t, "the full int64 range", got,
		"-9223372036854775808/min", "-5/m5", "-1/m1", "-1/m1b", "0/zero", "1/p1", "1/p1b", "5/p5", "9223372036854775807/max")

	wantKeys(t, "exact -5", e.queryKeys(exact("b", "n_int", "-5")), "m5")
	wantKeys(t, "exact max", e.queryKeys(exact("b", "n_int", "9223372036854775807")), "max")
	wantKeys(t, "range -5..-5", e.queryKeys(between("b", "n_int", "-5", "-5")), "m5")
	wantKeys(t, "range -4..0", e.queryKeys(between("b", "n_int", "-4", "0")), "m1", "m1b", "zero")
	wantKeys(t, "range 2..4", e.queryKeys(between("b", "n_int", "2", "4")))
	wantKeys(t, "reversed range 5..-5", e.queryKeys(between("b", "n_int", "5", "-5")))

	for _, q := range []kv.IndexQuery{
		exact("b", "n_int", "abc"),
		between("b", "n_int", "1", "x"),
		between("b", "n_int", "1.5", "3"),
		between("b", "n_int", "9223372036854775808", "9223372036854775809"),
	} {
		if _, _, err := e.queryErr(q); !errors.Is(err, kv.ErrBadIndex) || !strings.Contains(err.Error(), "field_parsing_failed") {
			t.Errorf("Query %s %q..%q: %v, want ErrBadIndex field_parsing_failed", q.Field, q.Start, q.End, err)
		}
	}
}

func TestIndexQueryBinaries(t *testing.T) {
	e := newEnv(t)
	terms := map[string]string{
		"empty": "", "a": "a", "a0": "a\x00", "a0b": "a\x00b", "a1": "a\x01", "ab": "ab", "abc": "abc",
		"b": "b", "ff": "\xff", "ff0": "\xff\x00",
	}
	for k, term := range terms {
		e.putIdx(key("b", k), "v", nil, "t_bin", term)
	}
	terms2 := func(res []kv.IndexResult) []string {
		out := []string{}
		for _, r := range res {
			out = append(out, fmt.Sprintf("%q", r.Term))
		}
		return out
	}
	res, _ := e.query(between("b", "t_bin", "", "\xff\xff"))
	wantKeys(t, "everything, in byte order", terms2(res),
		`""`, `"a"`, `"a\x00"`, `"a\x00b"`, `"a\x01"`, `"ab"`, `"abc"`, `"b"`, `"\xff"`, `"\xff\x00"`)

	wantKeys(t, `exact "a" (not "ab", not "a\x00")`, e.queryKeys(exact("b", "t_bin", "a")), "a")
	wantKeys(t, `exact "a\x00"`, e.queryKeys(exact("b", "t_bin", "a\x00")), "a0")
	wantKeys(t, `exact ""`, e.queryKeys(exact("b", "t_bin", "")), "empty")
	wantKeys(t, `range "a".."a"`, e.queryKeys(between("b", "t_bin", "a", "a")), "a")
	wantKeys(t, `range "a".."ab"`, e.queryKeys(between("b", "t_bin", "a", "ab")), "a", "a0", "a0b", "a1", "ab")
	wantKeys(t, `range "a\x00".."a\x01"`, e.queryKeys(between("b", "t_bin", "a\x00", "a\x01")), "a0", "a0b", "a1")
	wantKeys(t, `range "ab".."b"`, e.queryKeys(between("b", "t_bin", "ab", "b")), "ab", "abc", "b")
	wantKeys(t, `range "aa".."aaa"`, e.queryKeys(between("b", "t_bin", "aa", "aaa")))
	wantKeys(t, `range "\xff".."\xff"`, e.queryKeys(between("b", "t_bin", "\xff", "\xff")), "ff")

	q := between("b", "t_bin", "", "\xff\xff")
	q.TermRegex = regexp.MustCompile(`^a.`)
	res, _ = e.query(q)
	wantKeys(t, "term_regex ^a.", terms2(res), `"a\x00"`, `"a\x00b"`, `"a\x01"`, `"ab"`, `"abc"`)
}

func TestIndexQueryBucketAndKey(t *testing.T) {
	e := newEnv(t)
	for _, k := range []string{"k01", "k02", "k03", "k04", "k05", "k05x", "k06", "a"} {
		e.put(key("b", k), "v", nil)
	}
	e.put(key("bb", "k03"), "v", nil)
	e.put(key("c", "k03"), "v", nil)

	wantKeys(t, "$bucket b", e.queryKeys(exact("b", "$bucket", "_")), "a", "k01", "k02", "k03", "k04", "k05", "k05x", "k06")
	wantKeys(t, "$bucket (value ignored)", e.queryKeys(exact("bb", "$bucket", "anything")), "k03")
	wantKeys(t, "$bucket of an empty bucket", e.queryKeys(exact("nothing", "$bucket", "_")))
	wantKeys(t, "$key k02..k05 (inclusive)", e.queryKeys(between("b", "$key", "k02", "k05")), "k02", "k03", "k04", "k05")
	wantKeys(t, "$key k05..k05x", e.queryKeys(between("b", "$key", "k05", "k05x")), "k05", "k05x")
	wantKeys(t, "$key exact k03", e.queryKeys(exact("b", "$key", "k03")), "k03")
	wantKeys(t, "$key k07..k09", e.queryKeys(between("b", "$key", "k07", "k09")))
	wantKeys(t, "$key reversed", e.queryKeys(between("b", "$key", "k05", "k02")))
}

func TestIndexQueryErrors(t *testing.T) {
	e := newEnv(t)
	e.putIdx(key("b", "k"), "v", nil, "x_bin", "a")
	for _, field := range []string{"foo", "x_str", "x_bin2", ""} {
		if _, _, err := e.queryErr(exact("b", field, "a")); !errors.Is(err, kv.ErrBadIndex) {
			t.Errorf("field %q: %v, want ErrBadIndex", field, err)
		} else if !strings.Contains(err.Error(), "unknown_field_type") {
			t.Errorf("field %q: %v, want unknown_field_type", field, err)
		}
	}
	for _, c := range []string{"!!!not base64", "%%%", "YQ"} {
		q := between("b", "x_bin", "a", "z")
		q.Continuation = c
		if _, _, err := e.queryErr(q); !errors.Is(err, kv.ErrBadIndex) {
			t.Errorf("continuation %q: %v, want ErrBadIndex", c, err)
		}
	}
	q := exact("b", "x_bin", "a")
	q.Type = "nope"
	if _, _, err := e.queryErr(q); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("Query on an unknown type: %v, want ErrUnknownType", err)
	}
	stop := errors.New("stop")
	q = exact("b", "x_bin", "a")
	if _, err := e.svc.Query(bg, q, func([]kv.IndexResult) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Query whose emit fails: %v, want the emit error", err)
	}
}

// paginate runs q page by page with max_results n, checking the page
// sizes and the continuations, and returns the concatenated results.
func (e *env) paginate(q kv.IndexQuery, n int) []kv.IndexResult {
	e.t.Helper()
	q.MaxResults = n
	var all []kv.IndexResult
	for pages := 0; ; pages++ {
		if pages > 10000 {
			e.t.Fatalf("pagination of %+v does not end", q)
		}
		res, cont := e.query(q)
		if len(res) > n {
			e.t.Fatalf("page %d of %+v: %d results, more than max_results %d", pages, q, len(res), n)
		}
		if (cont != "") != (len(res) == n) {
			e.t.Fatalf("page %d of %+v: %d results, continuation %q; a continuation follows every full page and only a full page", pages, q, len(res), cont)
		}
		all = append(all, res...)
		if cont == "" {
			// Riak's rule: every full page has a continuation, so the
			// last page is the first one that is not full (maybe empty).
			if want := len(all)/n + 1; pages+1 != want {
				e.t.Fatalf("%+v: %d results in %d pages of %d, want %d pages", q, len(all), pages+1, n, want)
			}
			return all
		}
		if _, err := base64.StdEncoding.DecodeString(cont); err != nil {
			e.t.Fatalf("continuation %q is not base64: %v", cont, err)
		}
		q.Continuation = cont
	}
}

func TestIndexPagination(t *testing.T) {
	e := newEnv(t)
	r := newRand(t)
	colors := []string{"", "a", "a\x00", "ab", "b", "blue", "green", "red", "\xff"}
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("k%03d", r.IntN(1000))
		e.putIdx(key("b", k), "v", nil,
			"color_bin", colors[r.IntN(len(colors))], "color_bin", colors[r.IntN(len(colors))],
			"n_int", strconv.Itoa(r.IntN(40)-20))
	}
	queries := map[string]kv.IndexQuery{
		"bin range":   between("b", "color_bin", "", "\xff\xff"),
		"bin subset":  between("b", "color_bin", "a", "blue"),
		"bin exact":   exact("b", "color_bin", "red"),
		"int range":   between("b", "n_int", "-15", "15"),
		"int exact":   exact("b", "n_int", "3"),
		"$bucket":     exact("b", "$bucket", "_"),
		"$key":        between("b", "$key", "k100", "k700"),
		"empty range": between("b", "n_int", "100", "200"),
	}
	regexQ := between("b", "color_bin", "", "\xff\xff")
	regexQ.TermRegex = regexp.MustCompile(`^(a|b)`)
	queries["bin range with term_regex"] = regexQ

	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			e := *e
			e.t = t
			full, cont := e.query(q)
			if cont != "" {
				t.Fatalf("unpaginated query returned continuation %q", cont)
			}
			if !slices.IsSortedFunc(full, func(a, b kv.IndexResult) int {
				if q.Field == "n_int" {
					x, _ := strconv.Atoi(a.Term)
					y, _ := strconv.Atoi(b.Term)
					if c := cmp.Compare(x, y); c != 0 {
						return c
					}
				} else if c := strings.Compare(a.Term, b.Term); c != 0 {
					return c
				}
				return strings.Compare(a.Key, b.Key)
			}) {
				t.Errorf("results not sorted by (term, key): %v", full)
			}
			for i := 1; i < len(full); i++ {
				if full[i] == full[i-1] {
					t.Errorf("result %v reported twice", full[i])
				}
			}
			for _, n := range []int{1, 2, 7, 50, len(full), len(full) + 1} {
				if n == 0 {
					continue
				}
				got := e.paginate(q, n)
				if !slices.Equal(got, full) {
					t.Errorf("max_results %d: pages concatenate to %d results, want the %d of the unpaginated query\n got  %v\n want %v", n, len(got), len(full), got, full)
				}
			}
		})
	}
}

func TestListKeys(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := 0; i < 2500; i++ {
		k := fmt.Sprintf("key-%04d", i)
		want = append(want, k)
		e.put(key("big", k), "v", nil)
	}
	e.put(key("big2", "x"), "v", nil)
	e.put(key("bi", "y"), "v", nil)
	slices.Sort(want)

	// Every key once, in chunks of at most 1000; chunks stay valid after
	// emit returns.
	var chunks [][]string
	err := e.svc.ListKeys(bg, kv.DefaultType, "big", func(c []string) error {
		chunks = append(chunks, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 3 {
		t.Errorf("2500 keys in %d chunks, want at least 3 (≤ 1000 each)", len(chunks))
	}
	var got []string
	for _, c := range chunks {
		if len(c) == 0 || len(c) > 1000 {
			t.Errorf("chunk of %d keys", len(c))
		}
		got = append(got, c...)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("ListKeys(big): %d keys (%d distinct), want the 2500 written, each once", len(got), len(slices.Compact(slices.Clone(got))))
	}
	wantKeys(t, "ListKeys(big2)", e.listKeys(kv.DefaultType, "big2"), "x")
	wantKeys(t, "ListKeys(empty)", e.listKeys(kv.DefaultType, "empty"))

	// $bucket over the same keys: sorted, once each, across chunks.
	wantKeys(t, "$bucket big", e.queryKeys(exact("big", "$bucket", "_")), want...)
	if got := e.paginate(exact("big", "$bucket", "_"), 1500); len(got) != 2500 {
		t.Errorf("$bucket in pages of 1500: %d results", len(got))
	}

	// An emit error stops the listing.
	stop := errors.New("stop")
	calls := 0
	err = e.svc.ListKeys(bg, kv.DefaultType, "big", func([]string) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ListKeys with a failing emit: %v after %d calls, want the emit error after 1", err, calls)
	}
	if err := e.svc.ListKeys(bg, "nope", "big", func([]string) error { return nil }); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("ListKeys on an unknown type: %v, want ErrUnknownType", err)
	}
}

func TestListBuckets(t *testing.T) {
	e := newEnv(t)
	for _, b := range []string{"zeta", "alpha", "a", "ab", "b\xff", "b", "mid"} {
		for i := 0; i < 5; i++ {
			e.put(key(b, fmt.Sprintf("k%d", i)), "v", nil)
		}
	}
	if err := e.svc.CreateType("t", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ActivateType("t"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.CreateType("empty", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ActivateType("empty"); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"typed1", "alpha"} {
		k := kv.Key{Type: "t", Bucket: b, Key: "k"}
		if _, err := e.svc.Put(bg, k, []byte("v"), siblings.Meta{}, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	wantKeys(t, "ListBuckets(default)", e.listBuckets(kv.DefaultType), "a", "ab", "alpha", "b", "b\xff", "mid", "zeta")
	wantKeys(t, "ListBuckets(t)", e.listBuckets("t"), "alpha", "typed1")
	wantKeys(t, "ListBuckets(empty)", e.listBuckets("empty"))
	wantKeys(t, "ListKeys(t, alpha)", e.listKeys("t", "alpha"), "k")
	if err := e.svc.ListBuckets(bg, "nope", func([]string) error { return nil }); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("ListBuckets on an unknown type: %v, want ErrUnknownType", err)
	}
	if err := e.svc.CreateType("inactive", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ListBuckets(bg, "inactive", func([]string) error { return nil }); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("ListBuckets on an inactive type: %v, want ErrUnknownType", err)
	}

	// A bucket holding only an unreaped tombstone is still listed.
	e.put(key("ghost", "k"), "v", nil)
	if err := e.svc.Delete(bg, key("ghost", "k"), nil, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if got := e.listBuckets(kv.DefaultType); !slices.Contains(got, "ghost") {
		t.Errorf("ListBuckets with an unreaped tombstone: %q, want ghost listed", got)
	}
	e.clk.Advance(3 * time.Second)
	if got := e.listBuckets(kv.DefaultType); slices.Contains(got, "ghost") {
		t.Errorf("ListBuckets after the reap: %q, want ghost gone", got)
	}
}

func TestListBucketsChunks(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 1200; i++ {
		e.put(key(fmt.Sprintf("b%04d", i), "k"), "v", nil)
	}
	var sizes []int
	var all []string
	err := e.svc.ListBuckets(bg, kv.DefaultType, func(c []string) error {
		sizes = append(sizes, len(c))
		all = append(all, c...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1200 || !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != 1200 {
		t.Errorf("ListBuckets: %d names, sorted %t; want 1200 distinct sorted", len(all), slices.IsSorted(all))
	}
	for _, n := range sizes {
		if n == 0 || n > 1000 {
			t.Errorf("chunk sizes %v, want 1..1000", sizes)
			break
		}
	}
}
