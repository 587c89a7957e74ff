#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace stopline::pipeline {

/* One plate candidate in the coordinates of the image given to locate(). The score
 * only orders candidates (higher is more plate-like); it is not a probability. */
struct PlateBox
{
    cv::Rect box;
    double score;
};

/* Finds licence-plate candidates in a photograph so the evidence pipeline can cut
 * plate crops from the A-shot and B-shot without a trained detector. A plate is, to a
 * reader, a row of character-sized strokes of one height on a plain band; the locator
 * proposes such rows from locally thresholded connected components, scores them, and
 * grows the best rows to the whole plate (US plates are 2:1, characters about 45% of
 * the plate height). Stateless after construction: locate() is const and may run on
 * many threads at once. */
class PlateLocator
{
public:
    struct Options
    {
        int maxCandidates = 3; /* at most this many boxes, best first */
        int workSize = 1280;   /* longest side of the work image; larger ones are downscaled */
        int minCharHeight = 8; /* in work-image pixels; smaller rows are ignored */
        int maxCharHeight = 120;
        double maxJoinGap = 3.0;  /* widest gap, / character height, inside one plate row */
        int minChars = 3;         /* components in a row before it is a candidate */
        int pyramidLevels = 3;    /* each halves the image for twice-as-large characters */
        double levelSpan = 4.0;   /* character heights per level: minCharHeight x this */
        double runPerChar = 0.63; /* longer horizontal runs are frame lines, not strokes */
        int lightOnDark = 1;      /* also look for light characters on a dark plate */
        double minScore = -2.0;   /* candidates scoring below this are dropped */
        double nmsOverlap = 0.3;  /* IoU above which a weaker candidate is suppressed */
        /* Plate box from the character row, measured on US plates: plate height per
         * character height, and plate width per character-row width. */
        double plateHeightPerChar = 2.1;
        int framed = 1;              /* also look for light plate-shaped regions */
        int framedContrast = 20;     /* how much lighter than around them */
        int minPlateHeight = 10;     /* smallest such region, work pixels */
        double framedScore = 0.5;    /* least score of a row found in such a region */
        int refine = 1;              /* move boxes to visible plate edges */
        double plateOffsetY = -0.05; /* plate centre below the row centre, / plate height */
    };

    /* Two constructors rather than `Options options = {}`: GCC 12 rejects a default
     * argument of a nested type with member initializers inside its enclosing class. */
    PlateLocator();
    explicit PlateLocator(Options options);

    /* Candidates best first, at most options.maxCandidates. Accepts 8-bit BGR or
     * grey images; an empty image gives no candidates. */
    std::vector<PlateBox> locate(const cv::Mat &bgr) const;

    const Options &options() const { return options_; }

private:
    Options options_;
};

/* Intersection over union of two boxes (0 when either is empty): how the evaluation and
 * the HIL tests decide that a candidate found a plate. */
double plateIou(const cv::Rect &a, const cv::Rect &b);

} // namespace stopline::pipeline
