package lib

import _ "os"
