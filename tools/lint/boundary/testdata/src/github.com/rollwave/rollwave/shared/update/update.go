package update

import (
	_ "github.com/aws/aws-sdk-go-v2/aws" // want `import "github.com/aws/aws-sdk-go-v2/aws" is not allowed by rule domain-is-pure`
	_ "io/ioutil"                        // want `rule domain-is-pure`
	_ "net/http"                         // want `rule domain-is-pure`
	_ "os"                               // want `rule domain-is-pure`
	_ "os/exec"                          // want `rule domain-is-pure`
	_ "strings"
	_ "syscall" // want `rule domain-is-pure`
	_ "time"

	_ "github.com/rollwave/rollwave/shared/bottlerocket"
	_ "github.com/rollwave/rollwave/tools/harness" // want `rule tools-stay-out-of-binaries`
)
