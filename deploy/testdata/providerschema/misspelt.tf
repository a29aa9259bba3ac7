resource "aws_sqs_queue" "q" {
  name                      = "q"
  visibilty_timeout_seconds = 30
}
