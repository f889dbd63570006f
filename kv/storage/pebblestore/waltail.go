package pebblestore

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// cutTornWALTail makes the newest WAL in dir end at its last whole record
// when its tail is torn, before Pebble replays it.
//
// From FormatWALSyncChunks on, each WAL chunk records the offset Pebble
// believes synced, and at replay a bad chunk followed by a chunk claiming
// a synced offset past it is reported as corruption. riakgo defers WAL
// fsyncs (see the package doc), so after a machine crash that claim can be
// untrue: the OS wrote a later page and lost an earlier one. That is the
// torn tail of writes that were never fsynced, which Pebble's earlier
// formats dropped at replay; this drops it the same way, by cutting the
// file at the start of the first record that does not read whole.
//
// Only the newest WAL is cut: an older one was fsynced when it was closed,
// so damage there is real corruption and Pebble reports it, as before. The
// cut is logged. It reports whether a file was cut.
func cutTornWALTail(fs vfs.FS, dir string, log *slog.Logger) (bool, error) {
	names, err := fs.List(dir)
	if err != nil {
		// A new store (Pebble creates the directory), or one Pebble will
		// report as unreadable itself.
		return false, nil
	}
	var newest uint64
	found := false
	for _, n := range names {
		if strings.HasSuffix(n, ".log"+cutSuffix) {
			// A cut interrupted before its rename: the WAL is whole.
			if err := fs.Remove(fs.PathJoin(dir, n)); err != nil {
				return false, err
			}
			continue
		}
		num, ok := walNum(n)
		if ok && (!found || num > newest) {
			newest, found = num, true
		}
	}
	if !found {
		return false, nil
	}
	name := fs.PathJoin(dir, fmt.Sprintf("%06d.log", newest))
	cut, size, err := wholeRecordsEnd(fs, name, newest)
	if err != nil || cut < 0 {
		return false, err
	}
	if err := truncateFile(fs, dir, name, cut); err != nil {
		return false, fmt.Errorf("cutting the torn tail of %s: %w", name, err)
	}
	if log != nil {
		log.Warn("storage: cut the torn tail of the newest WAL (writes not yet fsynced when the machine stopped)",
			"file", name, "kept_bytes", cut, "dropped_bytes", size-cut)
	}
	return true, nil
}

const cutSuffix = ".cut"

// walNum parses a WAL file name ("000123.log").
func walNum(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, ".log")
	if !ok || base == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(base, 10, 64)
	return n, err == nil
}

// wholeRecordsEnd reads the WAL name (log number num) record by record.
// If Pebble's reader reports a chunk that later chunks say was synced (a
// torn tail, see cutTornWALTail), it returns the offset at which that
// record starts; otherwise -1 (the file ends cleanly or uncleanly in a way
// Pebble's replay tolerates). size is the file's size.
func wholeRecordsEnd(fs vfs.FS, name string, num uint64) (cut, size int64, err error) {
	f, err := fs.Open(name)
	if err != nil {
		return -1, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return -1, 0, err
	}
	r := newRecordReader(record.NewReader, f, num)
	for {
		start := r.Offset()
		rec, err := r.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, rec)
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF), errors.Is(err, record.ErrUnexpectedEOF):
			return -1, st.Size(), nil
		case errors.Is(err, record.ErrInvalidChunk), errors.Is(err, record.ErrZeroedChunk):
			return start, st.Size(), nil
		default:
			return -1, st.Size(), err
		}
	}
}

// newRecordReader calls record.NewReader with the log number converted to
// its parameter type (declared in a Pebble-internal package).
func newRecordReader[N ~uint64](newReader func(io.Reader, N) *record.Reader, r io.Reader, num uint64) *record.Reader {
	return newReader(r, N(num))
}

// truncateFile makes name hold only its first n bytes: a copy of them is
// written and fsynced beside it, renamed over it, and the directory
// fsynced (vfs.File has no Truncate).
func truncateFile(fs vfs.FS, dir, name string, n int64) error {
	src, err := fs.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := name + cutSuffix
	dst, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, io.LimitReader(src, n)); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := fs.Rename(tmp, name); err != nil {
		return err
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
