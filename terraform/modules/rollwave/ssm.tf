# The SSM Command documents the workers run on the hosts, with the content of shared/ssmdoc.

resource "aws_ssm_document" "this" {
  for_each = local.ssm_documents

  name            = "${var.prefix}-${each.key}"
  document_type   = "Command"
  document_format = "JSON"
  content         = each.value
  tags            = local.tags
}
