package admin

import _ "net/http" // tools/ may do I/O
