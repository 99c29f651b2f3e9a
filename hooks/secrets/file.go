package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
)

// MaxFileSize bounds the size of a secrets file.
const MaxFileSize = 1 << 20

// ErrInsecureFile is wrapped by the error of a secrets file that group or others can read or
// write, or that is not a regular file.
var ErrInsecureFile = errors.New("flowstate: insecure secrets file")

// ErrBadFile is wrapped by the error of a secrets file that is not a JSON object of names to
// strings.
var ErrBadFile = errors.New("flowstate: malformed secrets file")

// FileResolver resolves secrets from a JSON file of names to string values. It reads the file on
// every Resolve: edits and rotations take effect at the next hook call.
type FileResolver struct {
	path string
}

// File returns a resolver reading the JSON file at path:
//
//	{"slack-webhook/my-slack-webhook": "https://hooks.slack.com/services/…"}
//
// The file must be a regular file with no permission for group or others (chmod 600); on
// Windows, where Go reports no such permissions, that check is skipped.
func File(path string) *FileResolver { return &FileResolver{path: path} }

// Path returns the file's path.
func (r *FileResolver) Path() string { return r.path }

// Resolve implements hooks.SecretResolver. An insecure file is an error wrapping ErrInsecureFile,
// a malformed one an error wrapping ErrBadFile, a name the file lacks a *NotFoundError naming the
// file. No error holds any part of the file's content.
func (r *FileResolver) Resolve(_ context.Context, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	values, err := r.load()
	if err != nil {
		return "", err
	}
	raw, ok := values[name]
	if !ok {
		return "", &NotFoundError{Name: name, Looked: []string{"file " + r.path}}
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("%w: %s: the value of secret %q is not a JSON string", ErrBadFile, r.path, name)
	}
	if v == "" {
		return "", &NotFoundError{Name: name, Looked: []string{"file " + r.path + " (empty value)"}}
	}
	return v, nil
}

// load reads and checks the file. The mode is checked on the opened file, so that the file read
// is the file checked.
func (r *FileResolver) load() (map[string]json.RawMessage, error) {
	if r.path == "" {
		return nil, fmt.Errorf("flowstate: secrets file: no path given")
	}
	f, err := os.Open(r.path)
	if err != nil {
		return nil, fmt.Errorf("flowstate: secrets file: %w", pathError(err, r.path))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("flowstate: secrets file: %w", pathError(err, r.path))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (mode %s)", ErrInsecureFile, r.path, st.Mode())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("%w: %s has mode %#o: group and others must have no access to it; run chmod 600 %s",
			ErrInsecureFile, r.path, perm, r.path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("flowstate: secrets file: %w", pathError(err, r.path))
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadFile, r.path, MaxFileSize)
	}
	var values map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&values); err != nil || values == nil {
		// The decoder's message can quote the file's content: report the position only.
		where := ""
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			where = fmt.Sprintf(" (syntax error at byte %d)", syn.Offset)
		}
		return nil, fmt.Errorf("%w: %s is not a JSON object of secret names to strings%s", ErrBadFile, r.path, where)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s has data after its JSON object", ErrBadFile, r.path)
	}
	return values, nil
}

// pathError keeps the operation and the cause of a file error; the path is already in the
// caller's message.
func pathError(err error, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, path, pe.Err)
	}
	return err
}
