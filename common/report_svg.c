/* report_svg.c — loss-by-year.svg written by hand (include/optout/report.h): token loss per year as
 * two bars, English and non-English (by_year_class), the loss over all years of each as dashed
 * reference lines, axes, ticks, legend, title.
 * Output depends only on the statistics (fixed formats, no locale), so re-rendering is byte-exact. */
#include "optout/report.h"

/* Layout, in SVG user units. */
#define W 760.0
#define H 430.0
#define PX0 70.0  /* plot area */
#define PX1 740.0
#define PY0 80.0
#define PY1 350.0

#define C_EN "#e15759"
#define C_NON "#59a14f"

static double loss(const optout_bucket *b) {
    return b->tokens_in ? 100.0 * (double)b->tokens_removed / (double)b->tokens_in : 0.0;
}

/* The y axis: a top value and step from 1, 2, 5 x 10^k with at most 6 steps, at most 100%. */
static void y_scale(double max, double *top, double *step, int *decimals) {
    static const double STEPS[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 25};
    double raw = max * 1.1;
    if (raw < 1.0) raw = 1.0;
    *step = 25;
    for (size_t i = 0; i < sizeof STEPS / sizeof *STEPS; i++)
        if (raw / STEPS[i] <= 6.0) {
            *step = STEPS[i];
            break;
        }
    int k = (int)(raw / *step);
    if (k * *step < raw - 1e-9) k++;
    *top = k * *step;
    if (*top > 100.0) *top = 100.0;
    *decimals = *step < 1.0 ? 1 : 0;
}

int optout_report_write_svg(FILE *f, const optout_stats *s) {
    int lo = 2013, hi = 2024, have = 0;
    for (int y = 0; y < OPTOUT_YEARS - 1; y++)
        if (s->by_year[y].docs_in) {
            int year = OPTOUT_YEAR_MIN + y;
            if (year < lo) lo = year;
            if (year > hi) hi = year;
            have = 1;
        }
    const optout_bucket *en = &s->by_class[OPTOUT_CLASS_EN], *non = &s->by_class[OPTOUT_CLASS_NON_EN];
    double max = 0;
    for (int year = lo; year <= hi; year++)
        for (int c = OPTOUT_CLASS_EN; c <= OPTOUT_CLASS_NON_EN; c++) {
            const optout_bucket *b = &s->by_year_class[year - OPTOUT_YEAR_MIN][c];
            if (b->docs_in && loss(b) > max) max = loss(b);
        }
    if (en->docs_in && loss(en) > max) max = loss(en);
    if (non->docs_in && loss(non) > max) max = loss(non);
    double top, step;
    int dec;
    y_scale(max, &top, &step, &dec);
#define YPOS(v) (PY1 - (v) / top * (PY1 - PY0))

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" "
            "role=\"img\" aria-labelledby=\"title\">\n"
            "<title id=\"title\">Token loss per year: share of tokens removed by the robots.txt opt-out</title>\n"
            "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n"
            "<text x=\"%.1f\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">"
            "Token loss per crawl year (robots.txt opt-out)",
            W, H, W, H, W, H, W / 2);
    /* a sample's chart says so in its title: its bars are the sample's, not the corpus's */
    if (s->sample_ppm) fprintf(f, ", a %.4g%% sample", (double)s->sample_ppm / 1e4);
    fputs("</text>\n", f);

    /* legend, one row under the title */
    fprintf(f,
            "<g class=\"legend\">\n"
            "<rect x=\"%.1f\" y=\"46\" width=\"14\" height=\"10\" fill=\"" C_EN "\"/>"
            "<text x=\"%.1f\" y=\"55\">English</text>\n"
            "<rect x=\"%.1f\" y=\"46\" width=\"14\" height=\"10\" fill=\"" C_NON "\"/>"
            "<text x=\"%.1f\" y=\"55\">non-English</text>\n",
            PX0 - 50, PX0 - 30, PX0 + 40, PX0 + 60);
    if (en->docs_in) {
        char pct[32];
        snprintf(pct, sizeof pct, "%.2f%%", loss(en));
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"51\" x2=\"%.1f\" y2=\"51\" stroke=\"" C_EN "\" stroke-width=\"2\" "
                "stroke-dasharray=\"6 4\"/><text x=\"%.1f\" y=\"55\">English, all years: %s</text>\n",
                PX0 + 160, PX0 + 190, PX0 + 196, pct);
    }
    if (non->docs_in) {
        char pct[32];
        snprintf(pct, sizeof pct, "%.2f%%", loss(non));
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"51\" x2=\"%.1f\" y2=\"51\" stroke=\"" C_NON "\" stroke-width=\"2\" "
                "stroke-dasharray=\"2 3\"/><text x=\"%.1f\" y=\"55\">non-English, all years: %s</text>\n",
                PX0 + 380, PX0 + 410, PX0 + 416, pct);
    }
    fputs("</g>\n", f);

    /* y axis: grid lines, ticks, labels, title */
    fputs("<g class=\"y-axis\">\n", f);
    int ticks = (int)(top / step + 1e-9);
    for (int i = 0; i <= ticks; i++) {
        double v = i * step, y = YPOS(v);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>"
                "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f%%</text>\n",
                PX0, y, PX1, y, PX0 - 5, y, PX0, y, PX0 - 8, y + 4, dec, v);
    }
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n"
            "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">"
            "tokens removed (%% of the year's tokens)</text>\n</g>\n",
            PX0, PY0, PX0, PY1, (PY0 + PY1) / 2, (PY0 + PY1) / 2);

    /* x axis: one slot per year, labels thinned when there are many years */
    int n = hi - lo + 1, every = n <= 16 ? 1 : (n + 15) / 16;
    double slot = (PX1 - PX0) / n;
    fprintf(f, "<g class=\"x-axis\">\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n", PX0,
            PY1, PX1, PY1);
    for (int i = 0; i < n; i++) {
        double x = PX0 + (i + 0.5) * slot;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>", x, PY1, x, PY1 + 5);
        if (i % every == 0)
            fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>", x, PY1 + 20, lo + i);
        fputs("\n", f);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">crawl year (dump, else date)</text>\n</g>\n",
            (PX0 + PX1) / 2, PY1 + 45);

    /* bars: English and non-English side by side, for each year that has documents of the class */
    static const char *const CLASS_KEY[2] = {"en", "non_en"}, *const CLASS_TEXT[2] = {"English", "non-English"};
    static const char *const CLASS_COLOR[2] = {C_EN, C_NON};
    fputs("<g class=\"bars\">\n", f);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 2; c++) {
            const optout_bucket *b = &s->by_year_class[lo + i - OPTOUT_YEAR_MIN][c];
            if (!b->docs_in) continue;
            double v = loss(b), bw = slot * 0.36, x = PX0 + (i + 0.14) * slot + c * bw, y = YPOS(v);
            char rm[OPTOUT_REPORT_NUM_LEN], in[OPTOUT_REPORT_NUM_LEN];
            fprintf(f,
                    "<rect class=\"bar\" data-year=\"%d\" data-class=\"%s\" data-loss=\"%.4f\" x=\"%.1f\" "
                    "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%d, %s: %.2f%% of tokens removed "
                    "(%s of %s)</title></rect>\n",
                    lo + i, CLASS_KEY[c], v, x, y, bw, PY1 - y, CLASS_COLOR[c], lo + i, CLASS_TEXT[c], v,
                    optout_report_num(b->tokens_removed, rm), optout_report_num(b->tokens_in, in));
            if (n <= 16)
                fprintf(f, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\" "
                           "fill=\"#333333\">%.1f</text>\n",
                        x + bw / 2, y - 3, v);
        }
    fputs("</g>\n", f);

    /* reference lines: the overall English and non-English loss */
    if (en->docs_in)
        fprintf(f,
                "<line class=\"ref-en\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_EN "\" "
                "stroke-width=\"2\" stroke-dasharray=\"6 4\"><title>English, all years: %.2f%%</title></line>\n",
                PX0, YPOS(loss(en)), PX1, YPOS(loss(en)), loss(en));
    if (non->docs_in)
        fprintf(f,
                "<line class=\"ref-non-en\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_NON "\" "
                "stroke-width=\"2\" stroke-dasharray=\"2 3\"><title>non-English, all years: %.2f%%</title></line>\n",
                PX0, YPOS(loss(non)), PX1, YPOS(loss(non)), loss(non));
    if (!have)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#666666\">no documents with a year</text>\n",
                (PX0 + PX1) / 2, (PY0 + PY1) / 2);
    fputs("</svg>\n", f);
#undef YPOS
    return ferror(f) ? -1 : 0;
}
