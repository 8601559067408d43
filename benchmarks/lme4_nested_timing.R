# Time lme4 + lmerTest on every model of tests/data/public/nested_reference.json.
# Called by benchmarks/bench_vs_lme4.py; prints "name<TAB>seconds" per model.
# Per model: lmerTest::lmer (lme4's default optimizer), summary() with Satterthwaite df
# and ranef(condVar = TRUE): what a user runs to get the same output.
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args)) args[[1]] else file.path("tests", "data", "public")
ref <- fromJSON(file.path(dir, "nested_reference.json"), simplifyVector = FALSE)
ids <- c("batch", "cask", "schoolid", "childid", "COMPANY", "SUBNUM", "Subject", "site",
         "therapist", "patient")
for (name in names(ref$models)) {
  m <- ref$models[[name]]
  d <- read.csv(file.path(dir, ref$datasets[[m$data]]$file), colClasses = "character")
  for (col in setdiff(names(d), ids)) d[[col]] <- as.numeric(d[[col]])
  f <- as.formula(m$formula)
  t <- system.time({
    fit <- suppressMessages(suppressWarnings(lmerTest::lmer(f, d, REML = m$REML)))
    s <- summary(fit)
    r <- ranef(fit, condVar = TRUE)
  })[["elapsed"]]
  cat(name, "\t", t, "\n", sep = "")
}
