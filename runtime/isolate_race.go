//go:build race

package runtime

// raceBuild: the race detector maps its shadow memory as it goes, which an
// address-space limit breaks; race builds of the child skip RLIMIT_AS.
const raceBuild = true
