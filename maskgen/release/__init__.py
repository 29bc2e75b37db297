"""Stage 3: checking and publishing mask sets (verify, sheets, publish); what they measure is
:mod:`pconv.maskgen.measure`'s."""
