# Export public multilevel data sets and their lme4 / lmerTest results for pytest.
#
# Usage (from the repository root; R >= 4.2 with lme4, lmerTest, mlmRev, nlme, MASS):
#
#     Rscript tests/r/make_public_reference.R
#
# Writes tests/data/public/<data>.csv (numeric columns, factors as 0/1 dummies) and
# tests/data/public/lme4_reference.json: every model of MODELS below fitted by REML with
# lme4's default optimizer and with bobyqa (the higher REML logLik is kept), summarised
# with lmerTest's Satterthwaite df; and cluster-bootstrap resamples of six models (groups
# drawn with replacement, each draw relabelled as a distinct group) with the drawn group
# lists and lme4's REML logLik for each. Deterministic: set.seed below.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(mlmRev)
  library(jsonlite)
})

out_dir <- file.path("tests", "data", "public")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

dummy <- function(x, level) as.integer(x == level)

datasets <- list(
  sleepstudy = with(lme4::sleepstudy, data.frame(
    Subject = as.character(Subject), Reaction, Days)),
  orthodont = with(nlme::Orthodont, data.frame(
    Subject = as.character(Subject), distance, age, female = dummy(Sex, "Female"))),
  oxboys = with(nlme::Oxboys, data.frame(
    Subject = as.character(Subject), height, age)),
  bodyweight = with(nlme::BodyWeight, data.frame(
    Rat = as.character(Rat), weight, Time, diet2 = dummy(Diet, "2"), diet3 = dummy(Diet, "3"))),
  machines = with(nlme::Machines, data.frame(
    Worker = as.character(Worker), score, mB = dummy(Machine, "B"), mC = dummy(Machine, "C"))),
  orange = with(datasets::Orange, data.frame(
    Tree = as.character(Tree), circumference, age)),
  oats = with(MASS::oats, data.frame(
    B = as.character(B), Y, nitro = as.numeric(sub("cwt", "", as.character(N))),
    vM = dummy(V, "Marvellous"), vV = dummy(V, "Victory"))),
  exam = with(mlmRev::Exam, data.frame(
    school = as.character(school), normexam, standLRT, schavg, female = dummy(sex, "F"))),
  hsb82 = with(mlmRev::Hsb82, data.frame(
    school = as.character(school), mAch, ses, cses, meanses,
    catholic = dummy(sector, "Catholic"))),
  chem97 = with(mlmRev::Chem97, data.frame(
    school = as.character(school), score, gcsecnt)),
  scotssec = with(mlmRev::ScotsSec, data.frame(
    primary = as.character(primary), second = as.character(second), attain, verbal,
    female = dummy(sex, "F"))),
  gcsemv = with(mlmRev::Gcsemv, data.frame(
    school = as.character(school), course, written, female = dummy(gender, "F"))),
  egsingle = with(mlmRev::egsingle, data.frame(
    childid = as.character(childid), schoolid = as.character(schoolid), math, year)),
  star = with(mlmRev::star[!is.na(mlmRev::star$math), ], data.frame(
    id = as.character(id), math, yrs))
)

m <- function(name, data, response, terms, group, slope = NULL, exclude = NULL) {
  list(name = name, data = data, response = response, terms = terms, group = group,
       slope = slope, exclude = exclude)
}

MODELS <- list(
  m("sleepstudy_ri", "sleepstudy", "Reaction", "Days", "Subject"),
  m("sleepstudy_rs", "sleepstudy", "Reaction", "Days", "Subject", "Days"),
  m("orthodont_ri", "orthodont", "distance", c("age", "female"), "Subject"),
  m("orthodont_rs", "orthodont", "distance", "age", "Subject", "age"),
  m("orthodont_int", "orthodont", "distance", c("age", "female", "age:female"), "Subject", "age"),
  m("orthodont_noM05_rs", "orthodont", "distance", "age", "Subject", "age", exclude = "M05"),
  m("oxboys_ri", "oxboys", "height", "age", "Subject"),
  m("oxboys_rs", "oxboys", "height", "age", "Subject", "age"),
  m("bodyweight_rs", "bodyweight", "weight", c("Time", "diet2", "diet3"), "Rat", "Time"),
  m("machines_ri", "machines", "score", c("mB", "mC"), "Worker"),
  m("orange_ri", "orange", "circumference", "age", "Tree"),
  m("orange_rs", "orange", "circumference", "age", "Tree", "age"),
  m("oats_ri", "oats", "Y", c("nitro", "vM", "vV"), "B"),
  m("exam_ri", "exam", "normexam", c("standLRT", "female"), "school"),
  m("exam_rs", "exam", "normexam", "standLRT", "school", "standLRT"),
  m("exam_int", "exam", "normexam", c("standLRT", "schavg", "standLRT:schavg"), "school",
    "standLRT"),
  m("hsb82_ri", "hsb82", "mAch", "ses", "school"),
  m("hsb82_rs", "hsb82", "mAch", c("cses", "meanses"), "school", "cses"),
  m("hsb82_int", "hsb82", "mAch", c("cses", "catholic", "meanses", "cses:catholic"), "school",
    "cses"),
  m("chem97_ri", "chem97", "score", "gcsecnt", "school"),
  m("chem97_rs", "chem97", "score", "gcsecnt", "school", "gcsecnt"),
  m("scotssec_ri", "scotssec", "attain", c("verbal", "female"), "second"),
  m("scotssec_rs", "scotssec", "attain", "verbal", "primary", "verbal"),
  m("gcsemv_ri", "gcsemv", "course", c("written", "female"), "school"),
  m("gcsemv_rs", "gcsemv", "course", "written", "school", "written"),
  m("egsingle_child_rs", "egsingle", "math", "year", "childid", "year"),
  m("egsingle_school_rs", "egsingle", "math", "year", "schoolid", "year"),
  m("star_ri", "star", "math", "yrs", "id"),
  m("star_rs", "star", "math", "yrs", "id", "yrs")
)

# bootstrap: 60 resamples of each of these six models
BOOT_MODELS <- c("sleepstudy_rs", "orthodont_int", "oxboys_rs", "bodyweight_rs", "exam_rs",
                 "hsb82_int")
N_BOOT <- 60

model_formula <- function(spec) {
  re <- if (is.null(spec$slope)) "1" else paste("1 +", spec$slope)
  as.formula(sprintf("%s ~ %s + (%s | %s)", spec$response, paste(spec$terms, collapse = " + "),
                     re, spec$group))
}

model_data <- function(spec) {
  d <- datasets[[spec$data]]
  if (!is.null(spec$exclude)) d <- d[!(d[[spec$group]] %in% spec$exclude), ]
  d
}

# lme4's default optimizer and bobyqa; the higher REML logLik wins (ties: default)
best_fit <- function(formula, data) {
  fits <- list(
    default = suppressMessages(suppressWarnings(lmerTest::lmer(formula, data, REML = TRUE))),
    bobyqa = suppressMessages(suppressWarnings(lmerTest::lmer(
      formula, data, REML = TRUE, control = lmerControl(optimizer = "bobyqa"))))
  )
  ll <- sapply(fits, function(f) as.numeric(logLik(f)))
  name <- if (ll[["bobyqa"]] > ll[["default"]] + 1e-9) "bobyqa" else "default"
  list(fit = fits[[name]], optimizer = name, loglik = ll)
}

vc_list <- function(fit, spec) {
  vc <- as.data.frame(VarCorr(fit))
  out <- list()
  for (i in seq_len(nrow(vc))) {
    key <- paste(ifelse(is.na(vc$grp[i]), "", vc$grp[i]), ifelse(is.na(vc$var1[i]), "", vc$var1[i]),
                 ifelse(is.na(vc$var2[i]), "", vc$var2[i]), sep = "|")
    out[[key]] <- vc$vcov[i]
  }
  out
}

reference <- list(
  generated_by = "tests/r/make_public_reference.R",
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

for (spec in MODELS) {
  d <- model_data(spec)
  b <- best_fit(model_formula(spec), d)
  co <- summary(b$fit)$coefficients
  reference$models[[spec$name]] <- list(
    data = spec$data, response = spec$response, terms = as.list(spec$terms),
    group = spec$group, slope = spec$slope, exclude = as.list(spec$exclude),
    logLik = as.numeric(logLik(b$fit)), optimizer = b$optimizer,
    logLik_default = b$loglik[["default"]], logLik_bobyqa = b$loglik[["bobyqa"]],
    theta = unname(getME(b$fit, "theta")), sigma = sigma(b$fit),
    vc = vc_list(b$fit, spec), singular = isSingular(b$fit),
    nobs = nobs(b$fit), ngroups = unname(ngrps(b$fit)),
    fixed = list(term = rownames(co), estimate = unname(co[, "Estimate"]),
                 se = unname(co[, "Std. Error"]), df = unname(co[, "df"]),
                 t = unname(co[, "t value"]), p = unname(co[, "Pr(>|t|)"]))
  )
  cat(spec$name, format(as.numeric(logLik(b$fit)), digits = 10), b$optimizer, "\n")
}

set.seed(20261128)
for (name in BOOT_MODELS) {
  spec <- Filter(function(s) s$name == name, MODELS)[[1]]
  d <- model_data(spec)
  groups <- sort(unique(as.character(d[[spec$group]])))
  split_rows <- split(seq_len(nrow(d)), as.character(d[[spec$group]]))
  resamples <- list()
  for (k in seq_len(N_BOOT)) {
    drawn <- sample(groups, length(groups), replace = TRUE)
    # each draw becomes a distinct group g001, g002, ... in draw order
    parts <- lapply(seq_along(drawn), function(j) {
      part <- d[split_rows[[drawn[j]]], ]
      part[[spec$group]] <- sprintf("g%03d", j)
      part
    })
    bd <- do.call(rbind, parts)
    b <- best_fit(model_formula(spec), bd)
    resamples[[k]] <- list(groups = drawn, logLik = as.numeric(logLik(b$fit)),
                           optimizer = b$optimizer, theta = unname(getME(b$fit, "theta")),
                           singular = isSingular(b$fit))
  }
  reference$bootstrap[[name]] <- list(model = name, seed = 20261128, resamples = resamples)
  cat("bootstrap", name, "done\n")
}

writeLines(toJSON(reference, auto_unbox = TRUE, digits = NA, null = "null", pretty = FALSE),
           file.path(out_dir, "lme4_reference.json"))
