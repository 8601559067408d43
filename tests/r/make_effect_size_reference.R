# Rights & Sterba (2019) R² components, conditional ICC and standardized effects of
# aim 1 and aim 2 models, computed in R directly from lme4 fits (r2mlm is not
# available here, so the formulas are written out), as the reference for
# process_outcome.analysis.effect_sizes.
#
# Usage (from the repository root; R >= 4.2 with lme4 and jsonlite):
#
#     Rscript tests/r/make_effect_size_reference.R
#
# Reads tests/data/study42/patients.csv; writes tests/data/study42/effect_size_reference.json
# keyed "<aim>/<outcome>/<process>" with f1, f2, v, m, sigma2 (variances with the n - 1
# denominator of var()), the shares r2_* and the conditional ICC, and standardized
# coefficients b * sd(x) / sd(y) of the process terms.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

d <- read.csv(file.path("tests", "data", "study42", "patients.csv"))

specs <- list(
  "aim1/symptoms/alliance" = post_symptoms ~ baseline_symptoms_c + alliance_within +
    alliance_between + (1 | therapist),
  "aim1/functioning/expectation" = post_functioning ~ baseline_functioning_c +
    expectation_within + expectation_between + (1 | therapist),
  "aim1/symptoms/joint" = post_symptoms ~ baseline_symptoms_c + alliance_within +
    alliance_between + expectation_within + expectation_between + (1 | therapist),
  "aim2/symptoms/alliance" = post_symptoms ~ baseline_symptoms_c + alliance_within +
    alliance_between + (1 + alliance_within | therapist),
  "aim2/functioning/expectation" = post_functioning ~ baseline_functioning_c +
    expectation_within + expectation_between + (1 + expectation_within | therapist)
)

r2 <- function(fit) {
  x <- model.matrix(fit)
  beta <- fixef(fit)
  fitted <- as.vector(x[, -1, drop = FALSE] %*% beta[-1])
  group <- model.frame(fit)$therapist
  n <- length(fitted)
  cm <- ave(fitted, group)
  f1 <- sum((fitted - cm)^2) / (n - 1)
  f2 <- sum((cm - mean(fitted))^2) / (n - 1)
  tau <- as.matrix(VarCorr(fit)$therapist)
  w <- getME(fit, "mmList")[[1]]  # random-effect predictors: intercept (and slope)
  v <- sum(diag(tau %*% cov(w)))
  mw <- colMeans(w)
  m <- as.numeric(t(mw) %*% tau %*% mw)
  sigma2 <- sigma(fit)^2
  total <- f1 + f2 + v + m + sigma2
  list(f1 = f1, f2 = f2, v = v, m = m, sigma2 = sigma2, total = total,
       r2_f1 = f1 / total, r2_f2 = f2 / total, r2_v = v / total, r2_m = m / total,
       r2_sigma2 = sigma2 / total, r2_within = f1 / (f1 + v + sigma2),
       r2_between = f2 / (f2 + m), conditional_icc = (v + m) / (v + m + sigma2),
       logLik = as.numeric(logLik(fit)))
}

out <- list()
for (key in names(specs)) {
  fit <- lmer(specs[[key]], data = d, REML = TRUE)
  res <- r2(fit)
  frame <- model.frame(fit)
  y <- frame[[1]]
  terms <- grep("_(within|between)$", names(fixef(fit)), value = TRUE)
  res$standardized <- lapply(setNames(terms, terms), function(t) {
    unname(fixef(fit)[t] * sd(frame[[t]]) / sd(y))
  })
  res$singular <- isSingular(fit)
  out[[key]] <- res
}
out$versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")))
write_json(out, file.path("tests", "data", "study42", "effect_size_reference.json"),
           auto_unbox = TRUE, digits = NA, pretty = TRUE)
