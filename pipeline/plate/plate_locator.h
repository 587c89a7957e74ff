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
 * reader, a row of character-sized strokes of one height on a plain band. The locator
 * proposes such rows from locally thresholded connected components (several contrasts,
 * both polarities, a small pyramid), and light 2:1 regions with a line of ink across
 * them; it scores each proposal with weights fitted on labelled photographs, grows
 * rows to the whole plate (US plates are 2:1, characters about 45% of the plate
 * height), snaps a box to the plate's edges when all four are visible, and suppresses
 * overlaps. Stateless after construction: locate() is const and may run on many
 * threads at once. */
class PlateLocator
{
public:
    /* Every number the locator uses, with the values measured on plates-us-dev (see
     * the stopline-plates README section); `stopline-plates eval --set name=value`
     * tries others without a rebuild. */
    struct Options
    {
        int maxCandidates = 3;   /* at most this many boxes, best first */
        double minScore = -2.0;  /* candidates scoring below this are dropped */
        double nmsOverlap = 0.3; /* IoU above which a weaker candidate is suppressed */
        int workSize = 1280;     /* longest side of the work image; larger are downscaled */

        /* Character rows */
        int minCharHeight = 8;    /* work-image pixels; smaller characters are ignored */
        int maxCharHeight = 120;  /* work-image pixels */
        int pyramidLevels = 3;    /* each halves the image for twice-as-large characters */
        double levelSpan = 4.0;   /* character heights per level: minCharHeight x this */
        double runPerChar = 0.63; /* longer horizontal runs are frame lines, not strokes */
        int lightOnDark = 1;      /* also look for light characters on a dark plate */
        int minChars = 3;         /* components in a row before it is a candidate */
        double maxJoinGap = 3.0;  /* widest gap inside one row (dash, emblem), / height */

        /* Plate box from a row, measured on US plates: plate height per character
         * height, and the plate centre's offset from the row centre per plate height
         * (negative: above, where the state name is). */
        double plateHeightPerChar = 2.2;
        double plateOffsetY = -0.05;
        int refine = 1; /* snap to the plate's four edges when they are all visible */

        /* Light plate-shaped regions */
        int framed = 1;           /* look for them at all */
        int framedContrast = 20;  /* how much lighter than around them, grey levels */
        int minPlateHeight = 10;  /* smallest such region, work pixels */
        double framedScore = 0.5; /* least score of a row found inside one */
    };

    /* Two constructors rather than `Options options = {}`: GCC 12 rejects a default
     * argument of a nested type with member initializers inside its enclosing class. */
    PlateLocator();
    explicit PlateLocator(Options options);

    /* Candidates best first, at most options.maxCandidates, in the image's pixels.
     * Accepts 8-bit BGR, BGRA or grey images; an empty or non-8-bit image gives no
     * candidates. Takes about 11 ms for a 1280x720 photograph on one core here. */
    std::vector<PlateBox> locate(const cv::Mat &bgr) const;

    const Options &options() const { return options_; }

private:
    Options options_;
};

/* Intersection over union of two boxes (0 when either is empty): how the evaluation and
 * the HIL tests decide that a candidate found a plate. */
double plateIou(const cv::Rect &a, const cv::Rect &b);

} // namespace stopline::pipeline
