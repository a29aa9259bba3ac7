# Every way of writing a resource that the provider accepts: meta-arguments, nested blocks, a
# dynamic block, a required block present.
resource "aws_sqs_queue" "q" {
  count                      = 2
  name                       = "q-${count.index}"
  visibility_timeout_seconds = 30

  lifecycle {
    prevent_destroy = true
  }
}

data "aws_iam_policy_document" "p" {
  dynamic "statement" {
    for_each = ["sqs:SendMessage"]
    content {
      actions   = [statement.value]
      resources = ["*"]
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = ["123456789012"]
      }
    }
  }
}

resource "aws_cloudwatch_event_target" "t" {
  rule = "r"
  arn  = "arn:aws:sns:eu-west-1:123456789012:t"
  input_transformer {
    input_paths    = { id = "$.id" }
    input_template = "\"<id>\""
  }
}

provider "aws" {
  region = "eu-west-1"
  alias  = "other"
}
