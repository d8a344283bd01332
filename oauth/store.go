package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Account is what `mailscript login NAME` stores: the provider, the
// client, the mail user and the refresh token (or the commands that
// keep it elsewhere).
type Account struct {
	Name string `json:"name"`
	Provider
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"` // Google's desktop-app secret; empty for public clients
	User         string `json:"user,omitempty"`          // the SASL user: the mailbox's address
	// RefreshToken is kept here unless Command is set.
	RefreshToken string `json:"refresh_token,omitempty"`
	// Command keeps the refresh token in a secrets manager instead.
	Command *TokenCommand `json:"token_command,omitempty"`
}

// TokenCommand hands the refresh token to commands the user names, run
// with /bin/sh -c: Store gets it on standard input (`pass insert -m
// mailscript/work`), Load prints it (`pass show mailscript/work`; the
// first line is read).
type TokenCommand struct {
	Store string `json:"store"`
	Load  string `json:"load"`
}

// Store keeps accounts as DIR/NAME.json: the folder mode 0700, each
// file 0600, written atomically (a temporary file renamed over it).
type Store struct {
	Dir string
}

// DefaultDir is $XDG_CONFIG_HOME/mailscript/oauth (~/.config when
// XDG_CONFIG_HOME is unset).
func DefaultDir() (string, error) {
	base, err := ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "oauth"), nil
}

// ConfigDir is $XDG_CONFIG_HOME/mailscript (~/.config/mailscript).
func ConfigDir() (string, error) {
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no config directory: %w", err)
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "mailscript"), nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckName refuses account names that are not a plain word (letters,
// digits, . _ -): a name never reaches outside the store's folder.
func CheckName(name string) error {
	if !nameRE.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("oauth account name %q: use letters, digits, '.', '_' and '-' (up to 64)", name)
	}
	return nil
}

// ErrNotFound is returned by [Store.Load] for an account never signed in.
var ErrNotFound = errors.New("no such oauth account")

func (s *Store) path(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if s.Dir == "" {
		return "", errors.New("oauth store: no folder")
	}
	return filepath.Join(s.Dir, name+".json"), nil
}

// MaxAccountFile bounds a stored account file.
const MaxAccountFile = 1 << 16

// Load reads account name (without the refresh token of a command store:
// [Store.RefreshToken] runs the command when it is needed).
func (s *Store) Load(name string) (*Account, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %q (sign in with: mailscript login %s)", ErrNotFound, name, name)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxAccountFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxAccountFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, MaxAccountFile)
	}
	var a Account
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err) // json errors quote no values
	}
	a.Name = name
	return &a, nil
}

// Save writes a (its refresh token to the command when a has one).
func (s *Store) Save(ctx context.Context, a *Account) error {
	p, err := s.path(a.Name)
	if err != nil {
		return err
	}
	out := *a
	if a.Command != nil {
		if err := runStore(ctx, a.Command.Store, a.RefreshToken); err != nil {
			return err
		}
		out.RefreshToken = ""
	}
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(p, append(b, '\n'))
}

// writeAtomic writes b to p with mode 0600 in a 0700 folder: a
// temporary file in the same folder, synced, then renamed over p.
func writeAtomic(p string, b []byte) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename: nothing there
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// RefreshToken is a's refresh token: stored in the file, or printed by
// its load command.
func (s *Store) RefreshToken(ctx context.Context, a *Account) (string, error) {
	if a.Command == nil {
		if a.RefreshToken == "" {
			return "", &SignInError{Name: a.Name, Reason: "no refresh token is stored"}
		}
		return a.RefreshToken, nil
	}
	tok, err := runLoad(ctx, a.Command.Load)
	if err != nil {
		return "", err
	}
	if tok == "" {
		return "", &SignInError{Name: a.Name, Reason: "the token command printed nothing"}
	}
	return tok, nil
}

// List is the names of the stored accounts, sorted.
func (s *Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && CheckName(n) == nil && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Forget removes account name's file (a command store keeps its copy:
// remove it there).
func (s *Store) Forget(name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w %q", ErrNotFound, name)
	} else if err != nil {
		return err
	}
	return nil
}

// commandTimeout bounds a token command (pass may ask for a GPG
// passphrase, so it is generous).
const commandTimeout = 2 * time.Minute

// maxCommandOutput bounds what a load command may print.
const maxCommandOutput = 1 << 16

func runStore(ctx context.Context, command, tok string) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdin = strings.NewReader(tok + "\n")
	var errb limited
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("token store command %q: %v%s", command, err, errb.tail())
	}
	return nil
}

func runLoad(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	var out, errb limited
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("token load command %q: %v%s", command, err, errb.tail()) // never its output
	}
	if out.over {
		return "", fmt.Errorf("token load command %q: printed more than %d bytes", command, maxCommandOutput)
	}
	line, _, _ := strings.Cut(out.b.String(), "\n")
	return strings.TrimSpace(line), nil
}

// limited keeps the first maxCommandOutput bytes written to it.
type limited struct {
	b    bytes.Buffer
	over bool
}

func (l *limited) Write(p []byte) (int, error) {
	if room := maxCommandOutput - l.b.Len(); len(p) > room {
		l.over = true
		l.b.Write(p[:max(room, 0)])
	} else {
		l.b.Write(p)
	}
	return len(p), nil
}

// tail is the end of a command's standard error, for its failure.
func (l *limited) tail() string {
	s := strings.TrimSpace(l.b.String())
	if len(s) > 200 {
		s = s[len(s)-200:]
	}
	if s == "" {
		return ""
	}
	return ": " + s
}
