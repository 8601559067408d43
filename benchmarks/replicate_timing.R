# CPU time of one power replicate's six fits in lme4 + lmerTest (called by
# benchmarks/bench_replicate_vs_lme4.py). Argument: a directory of rep_*.csv patient
# tables. Per table: aim 1 (random intercept) and aim 2 (random slope) of the target and
# the null-twin outcome, aim 3 with the planned and the null moderator; each with
# summary() (Satterthwaite df), the slope models also ranef(condVar = TRUE) and the
# REML log-likelihoods of the mixture test. Prints "replicates<TAB>cpu_seconds".
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
})
dir <- commandArgs(trailingOnly = TRUE)[[1]]
files <- sort(list.files(dir, pattern = "^rep_.*[.]csv$", full.names = TRUE))
tables <- lapply(files, function(f) read.csv(f, colClasses = c(therapist = "character")))
fit <- function(f, d) suppressMessages(suppressWarnings(lmerTest::lmer(f, d, REML = TRUE)))
start <- proc.time()
for (d in tables) {
  for (o in c("symptoms", "functioning")) {
    fixed <- sprintf("post_%s ~ baseline_%s_c + alliance_within + alliance_between", o, o)
    m1 <- fit(as.formula(paste(fixed, "+ (1 | therapist)")), d)
    s1 <- summary(m1)
    m2 <- fit(as.formula(paste(fixed, "+ (1 + alliance_within | therapist)")), d)
    s2 <- summary(m2)
    r2 <- ranef(m2, condVar = TRUE)
    lr <- max(0, 2 * (as.numeric(logLik(m2)) - as.numeric(logLik(m1))))
  }
  for (m in c("self_alliance", "use_alliance")) {
    f3 <- sprintf(paste("post_symptoms ~ baseline_symptoms_c + alliance_within * %s +",
                        "alliance_between + (1 + alliance_within | therapist)"), m)
    s3 <- summary(fit(as.formula(f3), d))
  }
}
used <- proc.time() - start
cat(length(tables), "\t", used[["user.self"]] + used[["sys.self"]], "\n", sep = "")
