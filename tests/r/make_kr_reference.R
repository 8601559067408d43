# Kenward-Roger (pbkrtest) references and a REML parametric bootstrap of a random slope.
#
# Usage (from the repository root; R >= 4.2 with lme4, lmerTest, pbkrtest, multilevel):
#
#     Rscript tests/r/make_kr_reference.R            # both parts
#     Rscript tests/r/make_kr_reference.R models     # tests/data/kr_reference.json only
#     Rscript tests/r/make_kr_reference.R bootstrap  # tests/data/pb_reference.json only
#     Rscript tests/r/make_kr_reference.R nested     # tests/data/kr_nested_reference.json
#
# Reads the public data sets and model specs of tests/data/public/lme4_reference.json
# (tests/r/make_public_reference.R) and tests/data/study42/patients.csv with the study42
# model specs of tests/data/study42/lme4_reference.json; exports multilevel's bh1996 to
# tests/data/public/bh1996.csv (the unit-free df test reads it). Writes
#
# - tests/data/kr_reference.json, `models[name]`: spec (data, response, terms, group, slope, exclude), lme4's REML
#   `theta`, `sigma`, `logLik`, `singular` (better of the default optimizer and bobyqa),
#   `fixed` = lmerTest's summary(ddf = "Kenward-Roger") (estimate, se from
#   pbkrtest::vcovAdj, df from pbkrtest::Lb_ddf, t, p), `vcov_adj` (row-major) and
#   `contrast`: lmerTest::contest(ddf = "Kenward-Roger") of the sum of all non-intercept
#   coefficients (weights `L`);
# - tests/data/pb_reference.json, `bootstrap[name]`: a parametric bootstrap of the random slope's REML likelihood
#   ratio: `lr` observed, `nsim` datasets simulated from the random-intercept REML fit
#   (lme4's simulate, seed below), both models refitted by REML (refit), `lr_sim` each
#   refit's max(0, LR), `p` = (1 + #{lr_sim >= lr}) / (nsim + 1).
# - tests/data/kr_nested_reference.json: a three-level model (nlme's Machines,
#   `score ~ mB + mC + (1 | Worker/Machine)`, balanced and with rows `drop` left out):
#   lme4's `theta` (Machine:Worker, then Worker), `sigma` and the Kenward-Roger table, to
#   check the engine's block-diagonal Kenward-Roger on several nested levels.
#
# Models on more than MAX_ROWS rows are skipped (pbkrtest's dense n x n algebra).
# Deterministic (set.seed below); about 5 minutes.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})

public_dir <- file.path("tests", "data", "public")
study_dir <- file.path("tests", "data", "study42")
public <- fromJSON(file.path(public_dir, "lme4_reference.json"), simplifyVector = FALSE)

data("bh1996", package = "multilevel", envir = environment())
bh <- bh1996
bh1996 <- data.frame(GRP = sprintf("G%03d", as.integer(bh$GRP)), WBEING = bh$WBEING,
                     HRS = bh$HRS, LEAD = bh$LEAD, G.HRS = bh$G.HRS)
names(bh1996)[names(bh1996) == "G.HRS"] <- "G_HRS"
write.csv(bh1996, file.path(public_dir, "bh1996.csv"), row.names = FALSE)

read_data <- function(name) {
  if (name == "study42") return(read.csv(file.path(study_dir, "patients.csv")))
  read.csv(file.path(public_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
}

spec_of <- function(data, response, terms, group, slope = NULL, exclude = NULL) {
  list(data = data, response = response, terms = as.list(terms), group = group,
       slope = slope, exclude = as.list(exclude))
}

specs <- list()
for (name in names(public$models)) {
  s <- public$models[[name]]
  specs[[name]] <- spec_of(s$data, s$response, unlist(s$terms), s$group, s$slope,
                           unlist(s$exclude))
}
study <- fromJSON(file.path(study_dir, "lme4_reference.json"), simplifyVector = FALSE)
for (key in names(study$models)) {
  terms <- unlist(lapply(Filter(function(r) r$key == key, study$fixed), function(r) r$term))
  parts <- strsplit(key, "/")[[1]]
  slope <- if (parts[1] == "aim1") NULL else paste0(parts[3], "_within")
  specs[[paste0("study42:", key)]] <- spec_of(
    "study42", paste0("post_", parts[2]), setdiff(terms, "(Intercept)"), "therapist", slope)
}

model_formula <- function(spec) {
  re <- if (is.null(spec$slope)) "1" else paste("1 +", spec$slope)
  as.formula(sprintf("%s ~ %s + (%s | %s)", spec$response,
                     paste(unlist(spec$terms), collapse = " + "), re, spec$group))
}

model_data <- function(spec) {
  d <- read_data(spec$data)
  ex <- unlist(spec$exclude)
  if (length(ex)) d <- d[!(d[[spec$group]] %in% ex), ]
  d[[spec$group]] <- as.character(d[[spec$group]])
  d
}

best_fit <- function(formula, data) {
  fits <- list(
    default = suppressMessages(suppressWarnings(lmerTest::lmer(formula, data, REML = TRUE))),
    bobyqa = suppressMessages(suppressWarnings(lmerTest::lmer(
      formula, data, REML = TRUE, control = lmerControl(optimizer = "bobyqa"))))
  )
  ll <- sapply(fits, function(f) as.numeric(logLik(f)))
  fits[[if (ll[["bobyqa"]] > ll[["default"]] + 1e-9) "bobyqa" else "default"]]
}

part <- commandArgs(trailingOnly = TRUE)
part <- if (length(part)) part[1] else "all"
meta <- list(
  generated_by = "tests/r/make_kr_reference.R", R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")),
  pbkrtest = as.character(packageVersion("pbkrtest"))
)
out <- c(meta, list(models = list()))

MAX_ROWS <- 4100  # pbkrtest forms dense n x n matrices: larger data sets are left out
for (name in if (part %in% c("all", "models")) names(specs) else character(0)) {
  spec <- specs[[name]]
  d <- model_data(spec)
  if (nrow(d) > MAX_ROWS) next
  fit <- best_fit(model_formula(spec), d)
  co <- summary(fit, ddf = "Kenward-Roger")$coefficients
  p <- nrow(co)
  L <- c(0, rep(1, p - 1))
  con <- if (p > 1) lmerTest::contest(fit, matrix(L, nrow = 1), ddf = "Kenward-Roger",
                                      joint = FALSE) else NULL
  va <- as.matrix(pbkrtest::vcovAdj(fit))
  out$models[[name]] <- c(spec, list(
    theta = unname(getME(fit, "theta")), sigma = sigma(fit),
    logLik = as.numeric(logLik(fit)), singular = isSingular(fit),
    fixed = list(term = rownames(co), estimate = unname(co[, "Estimate"]),
                 se = unname(co[, "Std. Error"]), df = unname(co[, "df"]),
                 t = unname(co[, "t value"]), p = unname(co[, "Pr(>|t|)"])),
    vcov_adj = as.vector(t(va)),
    contrast = if (is.null(con)) NULL else list(
      L = L, estimate = con$Estimate, se = con[["Std. Error"]], df = con$df,
      t = con[["t value"]], p = con[["Pr(>|t|)"]])
  ))
  cat(name, "\n")
}

# parametric bootstrap of the random slope (REML LR), simulated from the null REML fit
BOOT <- list(
  list(name = "study42:aim2/symptoms/alliance", alt = "study42:aim2/symptoms/alliance"),
  list(name = "orthodont_rs", alt = "orthodont_rs")
)
if (part %in% c("all", "models")) {
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = FALSE),
             file.path("tests", "data", "kr_reference.json"))
}
NSIM <- as.integer(Sys.getenv("PB_NSIM", "1000"))  # PB_NSIM=5 for a quick check
set.seed(20261206)
pb <- c(meta, list(bootstrap = list()))
for (b in if (part %in% c("all", "bootstrap")) BOOT else list()) {
  spec <- specs[[b$alt]]
  d <- model_data(spec)
  null_spec <- spec
  null_spec$slope <- NULL
  d <- d[complete.cases(d[, unique(c(spec$response, spec$group, spec$slope,
                                     unlist(strsplit(unlist(spec$terms), ":"))))]), ]
  m1 <- best_fit(model_formula(spec), d)
  m0 <- best_fit(model_formula(null_spec), d)
  m1b <- lmer(model_formula(spec), d, REML = TRUE, control = lmerControl(optimizer = "bobyqa"))
  lr <- max(0, 2 * (as.numeric(logLik(m1)) - as.numeric(logLik(m0))))
  sims <- simulate(m0, nsim = NSIM)
  lr_sim <- vapply(sims, function(y) {
    f0 <- suppressMessages(suppressWarnings(refit(m0, y)))
    f1 <- suppressMessages(suppressWarnings(refit(m1, y)))
    f1b <- suppressMessages(suppressWarnings(refit(m1b, y)))
    max(0, 2 * (max(as.numeric(logLik(f1)), as.numeric(logLik(f1b))) -
                  as.numeric(logLik(f0))))
  }, numeric(1))
  pb$bootstrap[[b$name]] <- list(model = b$alt, lr = lr, nsim = NSIM,
                                 seed = 20261206, lr_sim = lr_sim,
                                 p = (1 + sum(lr_sim >= lr)) / (NSIM + 1))
  cat("bootstrap", b$name, lr, pb$bootstrap[[b$name]]$p, "\n")
}
if (part %in% c("all", "bootstrap")) {
  writeLines(toJSON(pb, auto_unbox = TRUE, digits = NA, null = "null", pretty = FALSE),
             file.path("tests", "data", "pb_reference.json"))
}

if (part %in% c("all", "nested")) {
  machines <- read.csv(file.path(public_dir, "machines.csv"))
  machines$Worker <- as.character(machines$Worker)
  machines$Machine <- ifelse(machines$mB == 1, "B", ifelse(machines$mC == 1, "C", "A"))
  nested <- c(meta, list(models = list()))
  for (variant in list(list(name = "machines_nested", drop = integer(0)),
                       list(name = "machines_nested_unbalanced", drop = c(1L, 5L, 12L, 30L, 31L, 47L)))) {
    d <- if (length(variant$drop)) machines[-variant$drop, ] else machines
    fit <- lmer(score ~ mB + mC + (1 | Worker/Machine), d, REML = TRUE)
    co <- summary(fit, ddf = "Kenward-Roger")$coefficients
    nested$models[[variant$name]] <- list(
      drop = as.list(variant$drop), theta = unname(getME(fit, "theta")),
      theta_names = names(getME(fit, "theta")), sigma = sigma(fit),
      fixed = list(term = rownames(co), estimate = unname(co[, "Estimate"]),
                   se = unname(co[, "Std. Error"]), df = unname(co[, "df"])),
      vcov_adj = as.vector(t(as.matrix(pbkrtest::vcovAdj(fit)))))
  }
  writeLines(toJSON(nested, auto_unbox = TRUE, digits = NA, null = "null", pretty = FALSE),
             file.path("tests", "data", "kr_nested_reference.json"))
}
