package golf

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ProjectPrefix is the top-level directory of the challenge project
// tarball (/challenges.tar.gz).
const ProjectPrefix = "challenges"

// TarGz writes files into a gzip-compressed tar under prefix, in name
// order, with fixed times, owners and modes, so the same files always give
// the same bytes (and the same SHA-256).
func TarGz(prefix string, files []File) ([]byte, error) {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	epoch := time.Unix(0, 0).UTC()
	addDir := func(d string) error {
		if d == "." || d == "" || dirs[d] {
			return nil
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX})
	}
	for _, f := range sorted {
		if !fs.ValidPath(f.Name) {
			return nil, fmt.Errorf("golf: tar: invalid name %q", f.Name)
		}
		name := path.Join(prefix, f.Name)
		// Parents first, outermost first.
		var parents []string
		for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
			parents = append(parents, d)
		}
		for i := len(parents) - 1; i >= 0; i-- {
			if err := addDir(parents[i]); err != nil {
				return nil, err
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(f.Data)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadDirFiles reads every regular file under dir with its slash path
// relative to dir, skipping hidden entries (.git, .lake) and build output
// (.lake, build). Symbolic links are refused: a project must be
// self-contained. maxBytes caps the total (0: no cap).
func ReadDirFiles(dir string, maxBytes int64) ([]File, error) {
	var out []File
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || (d.IsDir() && d.Name() == "build") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("golf: %s is not a regular file", rel)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		total += int64(len(b))
		if maxBytes > 0 && total > maxBytes {
			return fmt.Errorf("golf: the project is larger than %d bytes", maxBytes)
		}
		out = append(out, File{Name: filepath.ToSlash(rel), Data: b})
		return nil
	})
	return out, err
}

// Untar extracts a gzip-compressed tar into dest, which must exist. Only
// directories and regular files are written, every name must stay inside
// dest, and maxBytes caps the total size (0: no cap). It is for the
// coordinator's own tarballs, but assumes nothing of them.
func Untar(r io.Reader, dest string, maxBytes int64) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("golf: untar: %w", err)
	}
	tr := tar.NewReader(zr)
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("golf: untar: %w", err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if !fs.ValidPath(name) || strings.Contains(name, `\`) {
			return fmt.Errorf("golf: untar: unsafe name %q", hdr.Name)
		}
		target := filepath.Join(dest, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			total += hdr.Size
			if maxBytes > 0 && total > maxBytes {
				return fmt.Errorf("golf: untar: more than %d bytes", maxBytes)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, io.LimitReader(tr, hdr.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("golf: untar %s: %w", name, err)
			}
		default:
			return fmt.Errorf("golf: untar: %s is not a file or directory", hdr.Name)
		}
	}
}
