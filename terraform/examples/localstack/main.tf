# The queues, rules, documents, roles and alarms of rollwave on LocalStack 4.14.0, whose free
# edition has no ECS (so no services): `tflocal init && tflocal apply`. The workers then run as in
# docker-compose.yaml.

terraform {
  required_version = "~> 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.99.1"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

module "rollwave" {
  source = "../../modules/rollwave"

  clusters        = ["prod", "staging"]
  schedule        = null
  image_registry  = "local"
  image_tag       = "dev"
  create_services = false

  # fleetsim's hosts carry no EC2 tags, and neither LocalStack nor fleetsim enforces IAM.
  instance_tag = "*"
  # No alarm topic here: the pipeline events are in the workers' logs.
  alarm_pipeline_events = false
}

output "queue_urls" {
  description = "The queues, as LocalStack names them."
  value       = module.rollwave.queue_urls
}
