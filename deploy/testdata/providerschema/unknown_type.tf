resource "aws_sqs_queues" "q" {
  name = "q"
}

data "aws_iam_policy_documents" "p" {}

# Another provider's resources are not checked.
resource "random_id" "r" {
  byte_length = 4
}
