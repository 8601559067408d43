# The multilevel latent covariate model (Lüdtke et al., 2008) fitted by lavaan's
# two-level ML, as an independent reference for process_outcome.analysis.latent_means.
#
# Usage (from the repository root; R >= 4.2 with lavaan and jsonlite):
#
#     Rscript tests/r/make_latent_reference.R
#
# Reads tests/data/study42/patients.csv and writes tests/data/study42/latent_reference.json:
# for each model, lavaan's ML estimates and observed-information SEs of the within
# (bw) and between (bb) slopes of the outcome on each process's latent within and
# between parts, and of the contextual effect bb - bw.
#
# The baseline enters as in aim 1, with one coefficient g at both levels: its
# observed therapist mean zb is a level-2 variable and its deviation zw a level-1
# variable, and the process is regressed on the baseline with one coefficient d at
# both levels, so that the latent therapist mean of the process is conditional on the
# therapist's observed baseline mean (the parametrization of latent_means.py).
#
# The joint model (both processes) is not here: lavaan 0.6-14 did not converge on it
# (nlminb and BFGS, with and without bounds; its ML log-likelihood stayed below ours). The
# Python tests check that model's likelihood against a dense multivariate normal
# density instead.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

d <- read.csv(file.path("tests", "data", "study42", "patients.csv"))
d$zb <- ave(d$baseline_symptoms_c, d$therapist)
d$zw <- d$baseline_symptoms_c - d$zb
d$zfb <- ave(d$baseline_functioning_c, d$therapist)
d$zfw <- d$baseline_functioning_c - d$zfb

models <- list(
  "symptoms/alliance/none" = "
    level: 1
      post_symptoms ~ bw1*alliance_mean
    level: 2
      post_symptoms ~ bb1*alliance_mean
    ctx1 := bb1 - bw1
  ",
  "symptoms/alliance/baseline" = "
    level: 1
      alliance_mean ~ d1*zw
      post_symptoms ~ bw1*alliance_mean + g*zw
    level: 2
      alliance_mean ~ d1*zb
      post_symptoms ~ bb1*alliance_mean + g*zb
    ctx1 := bb1 - bw1
  ",
  "functioning/expectation/baseline" = "
    level: 1
      expectation_mean ~ d1*zfw
      post_functioning ~ bw1*expectation_mean + g*zfw
    level: 2
      expectation_mean ~ d1*zfb
      post_functioning ~ bb1*expectation_mean + g*zfb
    ctx1 := bb1 - bw1
  "
)


out <- list()
for (key in names(models)) {
  # Without covariates the process must be random (fixed.x = FALSE): lavaan's default
  # would treat its observed values as fixed at both levels, i.e. the manifest model.
  fit <- sem(models[[key]], data = d, cluster = "therapist", information = "observed",
             fixed.x = !grepl("/none$", key))
  pe <- parameterEstimates(fit)
  pick <- function(label) {
    row <- pe[pe$label == label, ][1, ]
    list(estimate = row$est, se = row$se)
  }
  labels <- intersect(c("bw1", "bb1", "ctx1", "bw2", "bb2", "ctx2"), pe$label)
  out[[key]] <- list(
    converged = lavInspect(fit, "converged"),
    loglik = as.numeric(logLik(fit)),
    nobs = nobs(fit),
    estimates = setNames(lapply(labels, pick), labels)
  )
}
out$versions <- list(R = R.version.string, lavaan = as.character(packageVersion("lavaan")))
write_json(out, file.path("tests", "data", "study42", "latent_reference.json"),
           auto_unbox = TRUE, digits = NA, pretty = TRUE)
