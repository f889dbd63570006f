package http

import (
	"context"
	"errors"
	nethttp "net/http"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
)

// Link walking (deprecated in Riak, served for old clients):
// GET /riak/B/K/<bucket>,<tag>,<keep>/… or /buckets/B/keys/K/<…>/…
// Each step follows the links of the current objects whose bucket and tag
// match ("_" matches anything) and fetches their targets. Steps marked keep
// (the last step keeps by default) each become one part of a
// multipart/mixed answer; a part is itself multipart/mixed with one
// sub-part per object, carrying its Location.

type walkStep struct {
	bucket, tag string
	keep        bool
}

// maxWalkObjects bounds the objects one walk may fetch.
const maxWalkObjects = 10000

func parseWalk(segs []string) ([]walkStep, bool) {
	steps := make([]walkStep, len(segs))
	for i, s := range segs {
		parts := strings.Split(s, ",")
		if len(parts) != 3 {
			return nil, false
		}
		st := walkStep{bucket: parts[0], tag: parts[1]}
		switch parts[2] {
		case "1":
			st.keep = true
		case "0":
		case "_":
			st.keep = i == len(segs)-1
		default:
			return nil, false
		}
		steps[i] = st
	}
	return steps, true
}

func (h *Handler) serveLinkWalk(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	if !allow(w, r, "GET", "HEAD") {
		return
	}
	steps, ok := parseWalk(rt.rest)
	if !ok {
		textError(w, badRequest("Invalid link walk: each step is BUCKET,TAG,KEEP with _ as a wildcard and KEEP 0, 1 or _\n"))
		return
	}
	ctx := r.Context()
	start, err := h.c.Get(ctx, rt.key, kv.Options{})
	if err != nil {
		textError(w, mapError(err, rt.key))
		return
	}
	type found struct {
		key kv.Key
		obj *siblings.Object
	}
	current := []found{{rt.key, start}}
	var kept [][]found
	fetched := 0
	for _, st := range steps {
		var next []found
		seen := map[kv.Key]bool{}
		for _, f := range current {
			for i := range f.obj.Siblings {
				s := &f.obj.Siblings[i]
				if s.Meta.Deleted {
					continue
				}
				for _, l := range s.Meta.Links {
					if (st.bucket != "_" && st.bucket != l.Bucket) || (st.tag != "_" && st.tag != l.Tag) {
						continue
					}
					typ := l.Type
					if typ == "" {
						typ = kv.DefaultType
					}
					k := kv.Key{Type: typ, Bucket: l.Bucket, Key: l.Key}
					if seen[k] {
						continue
					}
					seen[k] = true
					if p := principal(ctx); p != nil {
						if err := p.Check(riakapi.PermGet, k.Type, k.Bucket); err != nil {
							forbidden(w, err.Error())
							return
						}
					}
					if fetched++; fetched > maxWalkObjects {
						textError(w, badRequest("Link walk would fetch more than %d objects\n", maxWalkObjects))
						return
					}
					o, err := h.c.Get(ctx, k, kv.Options{})
					if errors.Is(err, kv.ErrNotFound) {
						continue
					}
					if err != nil {
						if errors.Is(err, context.Canceled) {
							return
						}
						textError(w, mapError(err, k))
						return
					}
					next = append(next, found{k, o})
				}
			}
		}
		if st.keep {
			kept = append(kept, next)
		}
		current = next
	}
	outer := kv.Base62(h.o.Rand(), h.o.Rand())
	var b strings.Builder
	for _, objs := range kept {
		inner := kv.Base62(h.o.Rand(), h.o.Rand())
		b.WriteString("\r\n--" + outer + "\r\nContent-Type: multipart/mixed; boundary=" + inner + "\r\n\r\n")
		for _, f := range objs {
			for i := range f.obj.Siblings {
				s := &f.obj.Siblings[i]
				b.WriteString("\r\n--" + inner + "\r\n")
				b.WriteString("X-Riak-Vclock: " + encodeVclock(f.obj.Clock) + "\r\n")
				b.WriteString("Location: " + objectURL(rt.api, f.key) + "\r\n")
				b.WriteString("Content-Type: " + contentTypeOf(&s.Meta) + "\r\n")
				b.WriteString("Link: " + linkHeader(rt.api, f.key, s.Meta.Links) + "\r\n")
				b.WriteString("Etag: " + s.Meta.VTag + "\r\n")
				b.WriteString("Last-Modified: " + httpTime(s.Meta.LastModified) + "\r\n")
				for _, m := range s.Meta.UserMeta {
					b.WriteString(metaPrefix + m.Key + ": " + m.Value + "\r\n")
				}
				b.WriteString("\r\n")
				b.Write(s.Value)
				if b.Len() > h.o.MaxWalkBytes {
					// Each kept step repeats what it reached: a short URL
					// could otherwise ask for gigabytes (issue 12).
					textError(w, badRequest("Link walk answer would be over %d bytes; walk fewer steps or keep fewer\n", h.o.MaxWalkBytes))
					return
				}
			}
		}
		b.WriteString("\r\n--" + inner + "--\r\n")
	}
	b.WriteString("\r\n--" + outer + "--\r\n")
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+outer)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(200)
	if r.Method != "HEAD" {
		w.Write([]byte(b.String()))
	}
}
