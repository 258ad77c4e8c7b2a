package mirror

import "testing"

func TestFetchSizer(t *testing.T) {
	f := newFetchSizer(8 << 20)
	// 1 KiB records: the fetch size stays (within a quarter).
	if size, changed := f.observe(100, 100*1024); changed || size != 8<<20 {
		t.Errorf("1 KiB records: %d, %v", size, changed)
	}
	// 40-byte records: the fetch shrinks by (40+16)/(40+320).
	g := newFetchSizer(8 << 20)
	size, changed := g.observe(1000, 40*1000)
	if want := int32(8 << 20 * 56 / 360); !changed || size != want {
		t.Errorf("40-byte records: %d, %v; want %d", size, changed, want)
	}
	// Never below minFetchBytes, and no change without records.
	h := newFetchSizer(100 << 10)
	if size, _ := h.observe(10, 0); size != minFetchBytes {
		t.Errorf("empty records: %d, want %d", size, minFetchBytes)
	}
	if size, changed := h.observe(0, 0); changed || size != minFetchBytes {
		t.Errorf("no records: %d, %v", size, changed)
	}
}
