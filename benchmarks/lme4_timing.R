# Time lme4 + lmerTest on every model of tests/data/public/lme4_reference.json.
# Called by benchmarks/bench_vs_lme4.py; prints "name<TAB>seconds" per model.
# Per model: lmerTest::lmer (lme4's default optimizer, REML), summary() with
# Satterthwaite df and ranef(condVar = TRUE): what a user runs to get the same output.
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args)) args[[1]] else file.path("tests", "data", "public")
ref <- fromJSON(file.path(dir, "lme4_reference.json"), simplifyVector = FALSE)
for (name in names(ref$models)) {
  m <- ref$models[[name]]
  d <- read.csv(file.path(dir, ref$datasets[[m$data]]$file),
                colClasses = setNames("character", m$group))
  if (length(m$exclude)) d <- d[!(d[[m$group]] %in% unlist(m$exclude)), ]
  re <- if (is.null(m$slope)) "1" else paste("1 +", m$slope)
  f <- as.formula(sprintf("%s ~ %s + (%s | %s)", m$response,
                          paste(unlist(m$terms), collapse = " + "), re, m$group))
  t <- system.time({
    fit <- suppressMessages(suppressWarnings(lmerTest::lmer(f, d, REML = TRUE)))
    s <- summary(fit)
    r <- ranef(fit, condVar = TRUE)
  })[["elapsed"]]
  cat(name, "\t", t, "\n", sep = "")
}
