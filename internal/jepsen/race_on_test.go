//go:build race

package jepsen

const raceEnabled = true
