module github.com/rollwave/rollwave/tools/demo

go 1.26.0

replace (
	github.com/rollwave/rollwave/shared => ../../shared
	github.com/rollwave/rollwave/tools/fleetsim => ../fleetsim
	github.com/rollwave/rollwave/tools/harness => ../harness
)

require (
	github.com/aws/aws-sdk-go-v2 v1.48.0
	github.com/aws/aws-sdk-go-v2/credentials v1.21.0
	github.com/aws/aws-sdk-go-v2/service/sqs v1.53.0
	github.com/google/go-cmp v0.7.0
	github.com/rollwave/rollwave/shared v0.0.0-00010101000000-000000000000
	github.com/rollwave/rollwave/tools/fleetsim v0.0.0-00010101000000-000000000000
	github.com/rollwave/rollwave/tools/harness v0.0.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream v1.7.27 // indirect
	github.com/aws/aws-sdk-go-v2/internal/configsources v1.5.12 // indirect
	github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 v2.8.12 // indirect
	github.com/aws/aws-sdk-go-v2/internal/v4a v1.5.12 // indirect
	github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs v1.92.2 // indirect
	github.com/aws/aws-sdk-go-v2/service/eventbridge v1.55.11 // indirect
	github.com/aws/aws-sdk-go-v2/service/ssm v1.82.1 // indirect
	github.com/aws/smithy-go v1.28.9 // indirect
)
