package cluster

import _ "github.com/aws/aws-sdk-go-v2/aws" // an adapter speaks AWS
