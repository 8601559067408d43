# Export public three-level (nested) data sets and their lme4 / lmerTest results for pytest.
#
# Usage (from the repository root; R >= 4.2 with lme4, lmerTest, mlmRev, multilevel):
#
#     Rscript tests/r/make_nested_reference.R
#
# Writes tests/data/public/<data>.csv and tests/data/public/nested_reference.json: every
# model of MODELS below (lme4 formulas with random terms nested in one top-level factor,
# and single-level models with two correlated slopes) fitted by REML (or ML where
# `REML = FALSE`) with lme4's default optimizer and with bobyqa (the better logLik is
# kept), summarised with lmerTest's Satterthwaite df and lme4's conditional modes with
# their conditional variances; and cluster-bootstrap resamples at the top level (top-level
# groups drawn with replacement; draw j becomes group g00j, the nested ids are kept, so
# the nested factor `top:inner` is distinct per draw). Deterministic: set.seed below.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(mlmRev)
  library(multilevel)
  library(jsonlite)
})

out_dir <- file.path("tests", "data", "public")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

data(univbct, package = "multilevel")
datasets <- list(
  pastes = with(lme4::Pastes, data.frame(
    batch = as.character(batch), cask = as.character(cask), strength)),
  # years in children in schools: all 7,230 rows (60 schools, 1,721 children)
  egsingle3 = with(mlmRev::egsingle, data.frame(
    schoolid = as.character(schoolid), childid = as.character(childid), math, year,
    female = as.integer(female == "Female"))),
  # times in soldiers in companies (the univariate, long form of the data)
  univbct = with(univbct, data.frame(
    COMPANY = as.character(COMPANY), SUBNUM = as.character(SUBNUM), TIME, JSAT, READY)),
  sleepquad = with(lme4::sleepstudy, data.frame(
    Subject = as.character(Subject), Reaction, Days, Days2 = Days^2)),
  # four levels (sessions in patients in therapists in sites), simulated here (seeded):
  # no public data set has three nested grouping factors with slopes
  sites = local({
    set.seed(20261207)
    g <- expand.grid(session = 0:4, patient = 1:6, therapist = 1:5, site = 1:8)
    g$patient <- sprintf("p%d", g$patient)  # patient ids repeat across therapists
    g$therapist <- sprintf("t%d", g$therapist)  # and therapist ids across sites
    g$site <- sprintf("s%d", g$site)
    key_t <- paste(g$site, g$therapist)
    key_p <- paste(key_t, g$patient)
    ut <- unique(key_t); up <- unique(key_p); us <- unique(g$site)
    g$x <- rnorm(nrow(g))
    g$y <- 1 + 0.3 * g$x - 0.2 * g$session + rnorm(length(us), sd = 0.5)[match(g$site, us)] +
      rnorm(length(ut), sd = 0.6)[match(key_t, ut)] +
      rnorm(length(ut), sd = 0.3)[match(key_t, ut)] * g$x +
      rnorm(length(up), sd = 0.8)[match(key_p, up)] + rnorm(nrow(g))
    g[, c("site", "therapist", "patient", "session", "x", "y")]
  })
)

m <- function(name, data, formula, REML = TRUE, top = NULL, boot = 0) {
  list(name = name, data = data, formula = formula, REML = REML, top = top, boot = boot)
}

MODELS <- list(
  m("pastes_nested", "pastes", "strength ~ 1 + (1 | batch) + (1 | batch:cask)",
    top = "batch", boot = 30),
  m("pastes_nested_ml", "pastes", "strength ~ 1 + (1 | batch) + (1 | batch:cask)",
    REML = FALSE),
  m("egsingle_3l_ri", "egsingle3", "math ~ year + (1 | schoolid) + (1 | schoolid:childid)"),
  m("egsingle_3l_rs", "egsingle3",
    "math ~ year + (1 + year | schoolid) + (1 + year | schoolid:childid)",
    top = "schoolid", boot = 10),
  m("egsingle_3l_rs_ml", "egsingle3",
    "math ~ year + (1 + year | schoolid) + (1 + year | schoolid:childid)", REML = FALSE),
  m("egsingle_3l_2slopes", "egsingle3",
    "math ~ year + female + (1 + year + female | schoolid) + (1 + year | schoolid:childid)"),
  m("univbct_3l_ri", "univbct", "JSAT ~ TIME + (1 | COMPANY) + (1 | COMPANY:SUBNUM)"),
  m("univbct_3l_rs", "univbct",
    "JSAT ~ TIME + READY + (1 + TIME | COMPANY) + (1 + TIME | COMPANY:SUBNUM)",
    top = "COMPANY", boot = 30),
  m("sleepstudy_quad", "sleepquad", "Reaction ~ Days + Days2 + (1 + Days + Days2 | Subject)",
    top = "Subject", boot = 30),
  m("sleepstudy_quad_ml", "sleepquad",
    "Reaction ~ Days + Days2 + (1 + Days + Days2 | Subject)", REML = FALSE),
  m("sleepstudy_uncorrelated", "sleepquad", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"),
  m("sites_4l", "sites",
    "y ~ x + session + (1 | site) + (1 + x | site:therapist) + (1 | site:therapist:patient)",
    top = "site", boot = 12),
  m("sites_4l_ml", "sites",
    "y ~ x + session + (1 | site) + (1 + x | site:therapist) + (1 | site:therapist:patient)",
    REML = FALSE)
)

best_fit <- function(formula, data, REML) {
  fits <- list(
    default = suppressMessages(suppressWarnings(lmerTest::lmer(formula, data, REML = REML))),
    bobyqa = suppressMessages(suppressWarnings(lmerTest::lmer(
      formula, data, REML = REML, control = lmerControl(optimizer = "bobyqa"))))
  )
  ll <- sapply(fits, function(f) as.numeric(logLik(f)))
  name <- if (ll[["bobyqa"]] > ll[["default"]] + 1e-9) "bobyqa" else "default"
  list(fit = fits[[name]], optimizer = name, loglik = ll)
}

vc_rows <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  list(grp = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1),
       var2 = ifelse(is.na(vc$var2), "", vc$var2), vcov = vc$vcov)
}

ranef_rows <- function(fit) {
  re <- as.data.frame(ranef(fit, condVar = TRUE))
  list(grpvar = as.character(re$grpvar), term = as.character(re$term),
       grp = as.character(re$grp), condval = re$condval, condsd = re$condsd)
}

reference <- list(
  generated_by = "tests/r/make_nested_reference.R",
  R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")),
  datasets = list(), models = list(), bootstrap = list()
)

for (name in names(datasets)) {
  path <- file.path(out_dir, paste0(name, ".csv"))
  write.csv(datasets[[name]], path, row.names = FALSE, na = "")
  reference$datasets[[name]] <- list(file = paste0(name, ".csv"), rows = nrow(datasets[[name]]))
}

set.seed(20261206)
for (spec in MODELS) {
  d <- datasets[[spec$data]]
  f <- as.formula(spec$formula)
  b <- best_fit(f, d, spec$REML)
  co <- summary(b$fit)$coefficients
  th <- getME(b$fit, "theta")
  reference$models[[spec$name]] <- list(
    data = spec$data, formula = spec$formula, REML = spec$REML,
    logLik = as.numeric(logLik(b$fit)), optimizer = b$optimizer,
    logLik_default = b$loglik[["default"]], logLik_bobyqa = b$loglik[["bobyqa"]],
    theta = unname(th), theta_names = names(th), sigma = sigma(b$fit),
    vc = vc_rows(b$fit), singular = isSingular(b$fit),
    nobs = nobs(b$fit), ngroups = as.list(ngrps(b$fit)),
    AIC = AIC(b$fit), BIC = BIC(b$fit),
    fixed = list(term = rownames(co), estimate = unname(co[, "Estimate"]),
                 se = unname(co[, "Std. Error"]), df = unname(co[, "df"]),
                 t = unname(co[, "t value"]), p = unname(co[, "Pr(>|t|)"])),
    ranef = ranef_rows(b$fit)
  )
  cat(spec$name, format(as.numeric(logLik(b$fit)), digits = 10), b$optimizer,
      if (isSingular(b$fit)) "singular" else "", "\n")
  if (spec$boot > 0) {
    top <- spec$top
    groups <- sort(unique(as.character(d[[top]])))
    split_rows <- split(seq_len(nrow(d)), as.character(d[[top]]))
    resamples <- list()
    for (k in seq_len(spec$boot)) {
      drawn <- sample(groups, length(groups), replace = TRUE)
      parts <- lapply(seq_along(drawn), function(j) {
        part <- d[split_rows[[drawn[j]]], ]
        part[[top]] <- sprintf("g%03d", j)
        part
      })
      bd <- do.call(rbind, parts)
      bb <- best_fit(f, bd, spec$REML)
      resamples[[k]] <- list(groups = drawn, logLik = as.numeric(logLik(bb$fit)),
                             optimizer = bb$optimizer, theta = unname(getME(bb$fit, "theta")),
                             singular = isSingular(bb$fit))
    }
    reference$bootstrap[[spec$name]] <- list(model = spec$name, top = top,
                                             seed = 20261206, resamples = resamples)
    cat("bootstrap", spec$name, "done\n")
  }
}

writeLines(toJSON(reference, auto_unbox = TRUE, digits = NA, null = "null", pretty = FALSE),
           file.path(out_dir, "nested_reference.json"))
