data "aws_iam_policy_document" "p" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variabel = "aws:SourceAccount"
      values   = ["123456789012"]
    }
  }
}
