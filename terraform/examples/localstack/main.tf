# The queues, rules, documents, roles and alarms of rollwave on the docker compose stack, whose
# LocalStack 4.14.0 free edition has no ECS (so no services): the workers then run as in
# docker-compose.yaml, against exactly what this creates (ROLLWAVE_BOOTSTRAP=check docker compose
# up verifies it and changes nothing).
#
#   docker compose up -d localstack fleetsim
#   cd terraform/examples/localstack && terraform init && terraform apply
#
# The provider below points at the stack itself, so plain terraform works; tflocal points every
# service at LocalStack, so with it give SSM to fleetsim: SSM_ENDPOINT=http://localhost:4599.

terraform {
  required_version = "~> 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.99.1"
    }
  }
}

# The account is LocalStack's (000000000000, from the access key "test"), as for the compose
# workers. The SSM documents go to fleetsim, which runs the workers' commands on its simulated
# hosts: LocalStack's SSM never runs one.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = false

  endpoints {
    sqs        = "http://localhost:4566"
    events     = "http://localhost:4566"
    iam        = "http://localhost:4566"
    sts        = "http://localhost:4566"
    logs       = "http://localhost:4566"
    cloudwatch = "http://localhost:4566"
    ssm        = "http://localhost:4599"
  }
}

module "rollwave" {
  source = "../../modules/rollwave"

  # The compose workers' ROLLWAVE_PREFIX and the scanner's ROLLWAVE_CLUSTERS.
  prefix   = "rollwave"
  clusters = ["prod", "staging"]
  # fleetsim's clusters belong to its scenario's account (123456789012), not LocalStack's, so
  # their events would never match rules restricted to this account's cluster ARNs: the rules
  # match every cluster, as the compose bootstrap makes them.
  restrict_events_to_clusters = false
  schedule                    = null
  image_registry              = "local"
  image_tag                   = "dev"
  create_services             = false

  # fleetsim's hosts carry no EC2 tags, and neither LocalStack nor fleetsim enforces IAM.
  instance_tag = "*"
  # No alarm topic here: the pipeline events are in the workers' logs.
  alarm_pipeline_events = false
}

output "queue_urls" {
  description = "The queues, as LocalStack names them."
  value       = module.rollwave.queue_urls
}
