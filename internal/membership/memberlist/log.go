package memberlist

import (
	"bytes"
	"context"
	"log/slog"
)

// logWriter turns memberlist's log lines into slog records.
type logWriter struct{ l *slog.Logger }

var levels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// Write logs one memberlist line at its level.
func (w logWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, lv := range levels {
		if bytes.HasPrefix(line, []byte(lv.prefix)) {
			level = lv.level
			line = bytes.TrimSpace(line[len(lv.prefix):])
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	if w.l.Enabled(context.Background(), level) {
		w.l.Log(context.Background(), level, string(line), "component", "memberlist")
	}
	return len(p), nil
}
