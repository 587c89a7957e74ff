#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace stopline::pipeline {

/* One plate candidate in the coordinates of the image given to locate(). The score
 * only orders candidates of one image (higher is more plate-like); it is not a
 * probability and is not comparable across images. */
struct PlateBox
{
    cv::Rect box;
    double score;
};

/* Finds licence-plate candidates in a photograph so the evidence pipeline can cut
 * plate crops from the A-shot and B-shot without a trained detector. It looks for
 * rows of character-sized dark-on-light (or light-on-dark) strokes, which is what a
 * plate is to a reader, and grows the row to the whole plate.
 * Stateless after construction: locate() is const and may run on many threads. */
class PlateLocator
{
public:
    struct Options
    {
        int maxCandidates = 3;   /* at most this many boxes, best first */
        int workWidth = 960;     /* images wider than this are downscaled first */
        int minCharHeight = 8;   /* in work-image pixels; smaller rows are ignored */
        int maxCharHeight = 90;  /* in work-image pixels */
        double minScore = 0.0;   /* candidates scoring below this are dropped */
        double nmsOverlap = 0.3; /* IoU above which a weaker candidate is suppressed */
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

} // namespace stopline::pipeline
