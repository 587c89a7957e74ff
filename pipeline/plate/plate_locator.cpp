#include "pipeline/plate/plate_locator.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numeric>

#include <opencv2/imgproc.hpp>

#include "pipeline/plate/plate_rows.h"

namespace stopline::pipeline {

namespace plate_detail {

namespace {

struct Blob
{
    int x, y, w, h, area;
    int right() const { return x + w; }
    int bottom() const { return y + h; }
};

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    auto mid = v.begin() + v.size() / 2;
    std::nth_element(v.begin(), mid, v.end());
    return *mid;
}

int findRoot(std::vector<int> &parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* Grey-level histogram of an 8-bit region, for the plate background and ink levels
 * that set a region's own thresholds. */
class GreyLevels
{
public:
    explicit GreyLevels(const cv::Mat &roi) : pixels_(static_cast<int>(roi.total()))
    {
        for (int y = 0; y < roi.rows; ++y) {
            const std::uint8_t *p = roi.ptr<std::uint8_t>(y);
            for (int x = 0; x < roi.cols; ++x)
                ++hist_[p[x]];
        }
    }

    /* The least level with more than q of the pixels at or below it. */
    int percentile(double q) const
    {
        const int target = cvRound(q * pixels_);
        int sum = 0;
        for (int v = 0; v < 256; ++v) {
            sum += hist_[v];
            if (sum > target)
                return v;
        }
        return 255;
    }

private:
    std::array<int, 256> hist_{};
    int pixels_;
};

/* A binary mask "contrast above a level" held as horizontal runs, with 8-connected
 * components found by union-find over runs. Plates are small in a scene and the masks
 * sparse, so this costs a few runs per row instead of a label per pixel (the whole
 * locator ran twice as fast here once it replaced cv::connectedComponentsWithStats). */
class RunMask
{
public:
    /* Pixels with diff > level. Runs longer than maxRun are dropped: plate frames,
     * borders and bumper edges touch the characters in many photographs and would
     * otherwise merge them into one component that is no longer character-shaped. */
    void build(const cv::Mat &diff, int level, int maxRun)
    {
        cols_ = diff.cols;
        rows_ = diff.rows;
        runs_.clear();
        rowStart_.assign(rows_ + 1, 0);
        const auto lv = static_cast<std::uint8_t>(level);
        for (int y = 0; y < rows_; ++y) {
            const std::uint8_t *p = diff.ptr<std::uint8_t>(y);
            int x = 0;
            while (x < cols_) {
                while (x < cols_ && p[x] <= lv)
                    ++x;
                if (x == cols_)
                    break;
                int start = x;
                while (x < cols_ && p[x] > lv)
                    ++x;
                if (x - start <= maxRun)
                    runs_.push_back({start, x});
            }
            rowStart_[y + 1] = static_cast<int>(runs_.size());
        }
    }

    /* Character-sized components: height within [minH, maxH], plausible width and
     * fill, not cut by the image border. */
    std::vector<Blob> charBlobs(int minH, int maxH)
    {
        std::vector<Blob> blobs;
        for (const Blob &b : components()) {
            if (b.h < minH || b.h > maxH)
                continue;
            if (b.w < 2 || b.w > 1.2 * b.h || b.w < 0.08 * b.h)
                continue;
            double fill = double(b.area) / (double(b.w) * b.h);
            if (fill < 0.18 || fill > 0.95)
                continue;
            if (b.x == 0 || b.y == 0 || b.right() >= cols_ || b.bottom() >= rows_)
                continue;
            blobs.push_back(b);
        }
        return blobs;
    }

    /* Every 8-connected component, as its bounding box and pixel count. */
    std::vector<Blob> components()
    {
        const int n = static_cast<int>(runs_.size());
        parent_.resize(n);
        std::iota(parent_.begin(), parent_.end(), 0);
        for (int y = 1; y < rows_; ++y) {
            int a = rowStart_[y - 1], aEnd = rowStart_[y];
            int b = rowStart_[y], bEnd = rowStart_[y + 1];
            while (a < aEnd && b < bEnd) {
                const Run &ra = runs_[a], &rb = runs_[b];
                /* 8-connected: the runs overlap or touch diagonally. */
                if (ra.x0 <= rb.x1 && rb.x0 <= ra.x1) {
                    int pa = findRoot(parent_, a), pb = findRoot(parent_, b);
                    if (pa != pb)
                        parent_[std::max(pa, pb)] = std::min(pa, pb);
                }
                if (ra.x1 < rb.x1)
                    ++a;
                else
                    ++b;
            }
        }
        struct Box
        {
            int x0, y0, x1, y1, area;
        };
        std::vector<Box> boxes(n);
        std::vector<int> roots;
        for (int y = 0; y < rows_; ++y) {
            for (int i = rowStart_[y]; i < rowStart_[y + 1]; ++i) {
                const Run &r = runs_[i];
                int root = findRoot(parent_, i);
                Box &bx = boxes[root];
                if (root == i) {
                    bx = {r.x0, y, r.x1, y + 1, 0};
                    roots.push_back(root);
                }
                bx.x0 = std::min(bx.x0, r.x0);
                bx.x1 = std::max(bx.x1, r.x1);
                bx.y1 = y + 1;
                bx.area += r.x1 - r.x0;
            }
        }
        std::vector<Blob> blobs;
        blobs.reserve(roots.size());
        for (int root : roots) {
            const Box &bx = boxes[root];
            blobs.push_back({bx.x0, bx.y0, bx.x1 - bx.x0, bx.y1 - bx.y0, bx.area});
        }
        return blobs;
    }

    /* Fraction of the band's pixels that are set; 1 when the band is off the image
     * (no evidence of a margin there). */
    double density(cv::Rect band) const
    {
        band &= cv::Rect(0, 0, cols_, rows_);
        if (band.empty())
            return 1.0;
        long set = 0;
        for (int y = band.y; y < band.y + band.height; ++y) {
            for (int i = rowStart_[y]; i < rowStart_[y + 1]; ++i) {
                int x0 = std::max(runs_[i].x0, band.x);
                int x1 = std::min(runs_[i].x1, band.x + band.width);
                if (x1 > x0)
                    set += x1 - x0;
            }
        }
        return double(set) / band.area();
    }

private:
    struct Run
    {
        int x0, x1; /* [x0, x1) */
    };
    int cols_ = 0, rows_ = 0;
    std::vector<Run> runs_;
    std::vector<int> rowStart_;
    std::vector<int> parent_;
};

/* Groups blobs into horizontal rows of similar height and aligned tops and bottoms, as
 * the characters of a plate are; each blob links to its nearest right neighbour. */
std::vector<std::vector<Blob>> groupRows(std::vector<Blob> blobs,
                                         const PlateLocator::Options &options)
{
    std::sort(blobs.begin(), blobs.end(), [](const Blob &a, const Blob &b) { return a.x < b.x; });
    const int n = static_cast<int>(blobs.size());
    std::vector<int> parent(n);
    std::iota(parent.begin(), parent.end(), 0);
    for (int i = 0; i < n; ++i) {
        const Blob &a = blobs[i];
        int best = -1;
        int bestGap = 0;
        int limit = a.right() + static_cast<int>(1.2 * a.h);
        for (int j = i + 1; j < n && blobs[j].x <= limit; ++j) {
            const Blob &b = blobs[j];
            if (b.x <= a.x + a.w / 2)
                continue;
            int gap = b.x - a.right();
            if (gap < -0.15 * a.h)
                continue;
            double hMax = std::max(a.h, b.h), hMin = std::min(a.h, b.h);
            if (hMax > 1.3 * hMin)
                continue;
            double tol = 0.2 * (a.h + b.h) / 2;
            if (std::abs(a.y - b.y) > tol || std::abs(a.bottom() - b.bottom()) > tol)
                continue;
            if (best < 0 || gap < bestGap) {
                best = j;
                bestGap = gap;
            }
        }
        if (best >= 0)
            parent[findRoot(parent, best)] = findRoot(parent, i);
    }
    std::vector<std::vector<Blob>> groups(n);
    for (int i = 0; i < n; ++i)
        groups[findRoot(parent, i)].push_back(blobs[i]);
    std::vector<std::vector<Blob>> pieces;
    for (auto &g : groups) {
        if (g.size() >= 2)
            pieces.push_back(std::move(g));
    }

    /* Many plates split their characters into two groups with a wider gap (a dash, a
     * state emblem, a space): also offer each piece joined with aligned pieces of the
     * same height to its right, keeping the pieces themselves as candidates. */
    std::sort(pieces.begin(), pieces.end(),
              [](const auto &a, const auto &b) { return a.front().x < b.front().x; });
    std::vector<std::vector<Blob>> rows;
    const double maxGap = options.maxJoinGap;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        if (static_cast<int>(pieces[i].size()) >= options.minChars)
            rows.push_back(pieces[i]);
        std::vector<Blob> joined = pieces[i];
        for (int joins = 0; joins < 2; ++joins) {
            const Blob &last = joined.back();
            double h = last.h;
            int best = -1;
            for (std::size_t j = i + 1; j < pieces.size(); ++j) {
                const Blob &first = pieces[j].front();
                int gap = first.x - last.right();
                if (gap < 0)
                    continue;
                if (gap > maxGap * h)
                    break;
                double hMax = std::max(first.h, last.h), hMin = std::min(first.h, last.h);
                double tol = 0.2 * (first.h + last.h) / 2;
                if (hMax > 1.3 * hMin || std::abs(first.y - last.y) > tol ||
                    std::abs(first.bottom() - last.bottom()) > tol)
                    continue;
                best = static_cast<int>(j);
                break;
            }
            if (best < 0)
                break;
            joined.insert(joined.end(), pieces[best].begin(), pieces[best].end());
            if (static_cast<int>(joined.size()) >= options.minChars)
                rows.push_back(joined);
        }
    }
    return rows;
}

/* Measures a row in the pixels of the pass that found it (mask is that pass's mask). */
CharRow describeRow(const std::vector<Blob> &blobs, const RunMask &mask, bool darkOnLight,
                    int contrastIndex, const PlateLocator::Options &options)
{
    CharRow row;
    row.darkOnLight = darkOnLight;
    row.count = static_cast<int>(blobs.size());
    std::vector<double> heights, tops, bottoms, gaps;
    int x0 = blobs.front().x, x1 = 0, y0 = blobs.front().y, y1 = 0;
    double narrow = 0, solid = 0, aspect = 0, fill = 0;
    for (std::size_t i = 0; i < blobs.size(); ++i) {
        const Blob &b = blobs[i];
        heights.push_back(b.h);
        tops.push_back(b.y);
        bottoms.push_back(b.bottom());
        x0 = std::min(x0, b.x);
        x1 = std::max(x1, b.right());
        y0 = std::min(y0, b.y);
        y1 = std::max(y1, b.bottom());
        double f = double(b.area) / (double(b.w) * b.h);
        narrow += b.w < 0.3 * b.h;
        solid += f > 0.8;
        aspect += double(b.w) / b.h;
        fill += f;
        if (i > 0)
            gaps.push_back(b.x - blobs[i - 1].right());
    }
    const double n = row.count;
    row.chars = cv::Rect(x0, y0, x1 - x0, y1 - y0);
    const double h = median(heights);
    row.charHeight = h;
    const double top = median(tops), bottom = median(bottoms);
    double dev = 0, hDev = 0;
    for (std::size_t i = 0; i < blobs.size(); ++i) {
        dev += std::abs(tops[i] - top) + std::abs(bottoms[i] - bottom);
        hDev += std::abs(heights[i] - h);
    }
    double gapMean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / gaps.size();
    double gapVar = 0;
    for (double g : gaps)
        gapVar += (g - gapMean) * (g - gapMean);

    auto &f = row.features;
    f[kCount] = std::min(n, 8.0) / 8.0;
    f[kExcess] = std::max(0.0, n - 8.0) / 8.0;
    f[kAlignDev] = dev / (2.0 * n * h);
    f[kHeightSpread] = hDev / (n * h);
    f[kGapSpread] = std::sqrt(gapVar / gaps.size()) / h;
    f[kGapMean] = gapMean / h;
    f[kNarrow] = narrow / n;
    f[kSolid] = solid / n;
    f[kAspect] = aspect / n;
    f[kFill] = fill / n;
    const int bandH = std::max(1, cvRound(0.35 * h));
    const int bandGap = std::max(1, cvRound(0.1 * h));
    f[kAbove] = mask.density(cv::Rect(x0, cvRound(top) - bandGap - bandH, x1 - x0, bandH));
    f[kBelow] = mask.density(cv::Rect(x0, cvRound(bottom) + bandGap, x1 - x0, bandH));
    f[kDarkOnLight] = darkOnLight ? 1.0 : 0.0;
    f[kContrast] = contrastIndex / 2.0;

    const double plateH = options.plateHeightPerChar * h;
    const double plateW = 2.0 * plateH;
    const double cx = (x0 + x1) / 2.0;
    const double cy = (top + bottom) / 2.0 + options.plateOffsetY * plateH;
    row.plate = cv::Rect(cvRound(cx - plateW / 2), cvRound(cy - plateH / 2), cvRound(plateW),
                         cvRound(plateH));
    return row;
}

cv::Rect scaleRect(const cv::Rect &r, int factor)
{
    return cv::Rect(r.x * factor, r.y * factor, r.width * factor, r.height * factor);
}

/* Linear row score. The weights are a logistic regression of "this row's plate box
 * has IoU >= 0.5 with the labelled plate", fitted by tools/plates/fit_weights.py
 * (--l2 0.1 --framed-score 0.5) on the even-indexed half of plates-us-dev and checked on the odd
 * half. */
constexpr std::array<double, kFeatureCount> kWeights = {
        /* count */ 0.473,
        /* excess */ -1.290,
        /* alignDev */ -1.292,
        /* heightSpread */ -3.907,
        /* gapSpread */ 0.067,
        /* gapMean */ -1.426,
        /* narrow */ -1.019,
        /* solid */ -1.034,
        /* aspect */ -2.152,
        /* fill */ -1.763,
        /* above */ 1.063,
        /* below */ 0.141,
        /* stability */ 1.545,
        /* darkOnLight */ 0.055,
        /* contrast */ 0.163,
        /* outside */ -7.335,
        /* framed */ 0.884,
};
constexpr double kBias = 1.461;

} // namespace

const std::array<const char *, kFeatureCount> kRowFeatureNames = {
        "count",     "excess",      "alignDev", "heightSpread", "gapSpread", "gapMean",
        "narrow",    "solid",       "aspect",   "fill",         "above",     "below",
        "stability", "darkOnLight", "contrast", "outside",      "framed",
};

namespace {

/* Light plate-shaped regions (2:1, mostly light, with some dark inside) holding a row of
 * dark characters. This finds small plates whose characters are too small, or too
 * bold and close, to come out as a row of their own at the work scale; the plate box
 * is then the region itself. */
void addFramedRows(const cv::Mat &gray, const PlateLocator::Options &options, int pass,
                   std::vector<CharRow> &rows)
{
    const int block = 41;
    cv::Mat mean, diff;
    cv::blur(gray, mean, cv::Size(block, block), cv::Point(-1, -1), cv::BORDER_REPLICATE);
    cv::subtract(gray, mean, diff);
    RunMask light, ink;
    light.build(diff, options.framedContrast, gray.cols);
    for (const Blob &b : light.components()) {
        if (b.h < options.minPlateHeight || b.h > 4 * options.maxCharHeight)
            continue;
        const double aspect = double(b.w) / b.h;
        const double fill = double(b.area) / (double(b.w) * b.h);
        if (aspect < 1.5 || aspect > 2.7 || fill < 0.5 || fill > 0.95)
            continue;
        if (b.x == 0 || b.y == 0 || b.right() >= gray.cols || b.bottom() >= gray.rows)
            continue;
        const cv::Rect region(b.x, b.y, b.w, b.h);
        cv::Mat roi = gray(region);
        const GreyLevels levels(roi);
        const int background = levels.percentile(0.85), dark = levels.percentile(0.05);
        if (background - dark < 30)
            continue;
        cv::Mat darkness;
        cv::subtract(cv::Scalar::all(background), roi, darkness);
        ink.build(darkness, (background - dark) / 2, std::max(2, b.w / 3));
        /* The characters: dark components of character height off the region's
         * border, on one line. They may touch each other (bold small print), so they are
         * not required to be separate characters; together they must span the plate. */
        std::vector<Blob> marks;
        for (const Blob &m : ink.components()) {
            if (m.h < std::max(3, b.h / 5) || m.h > b.h * 4 / 5 || m.x == 0 || m.y == 0 ||
                m.right() >= b.w || m.bottom() >= b.h)
                continue;
            marks.push_back(m);
        }
        if (marks.empty())
            continue;
        const Blob tallest = *std::max_element(
                marks.begin(), marks.end(), [](const Blob &p, const Blob &q) { return p.h < q.h; });
        std::vector<Blob> line;
        for (const Blob &m : marks) {
            int overlap = std::min(m.bottom(), tallest.bottom()) - std::max(m.y, tallest.y);
            if (overlap >= 0.6 * std::min(m.h, tallest.h) && m.h >= 0.6 * tallest.h)
                line.push_back(m);
        }
        std::sort(line.begin(), line.end(), [](const Blob &p, const Blob &q) { return p.x < q.x; });
        if (line.size() < 2)
            continue;
        CharRow row = describeRow(line, ink, true, 1, options);
        const double centre = row.chars.y + row.chars.height / 2.0;
        if (row.chars.width < 0.4 * b.w || centre < 0.3 * b.h || centre > 0.85 * b.h)
            continue;
        row.chars += region.tl();
        row.plate = region;
        row.framed = true;
        row.pass = pass;
        row.features[kFramed] = 1.0;
        rows.push_back(row);
    }
}

} // namespace

std::vector<CharRow> proposeRows(const cv::Mat &gray, const PlateLocator::Options &options)
{
    static constexpr int kContrasts[] = {8, 20, 40};
    std::vector<CharRow> rows;
    RunMask mask;
    int pass = 0;
    for (bool darkOnLight : {true, false}) {
        if (!darkOnLight && !options.lightOnDark)
            continue;
        cv::Mat level = gray;
        int factor = 1;
        for (int l = 0; l < options.pyramidLevels; ++l) {
            if (l > 0) {
                if (level.cols < 64 || level.rows < 32)
                    break;
                cv::Mat half;
                cv::resize(level, half, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
                level = half;
                factor *= 2;
            }
            /* Each level looks for characters from minCharHeight to levelSpan times that
             * (the last level up to maxCharHeight); the averaging window and the run cut
             * are sized for the smaller characters, whose strokes are the fragile ones. */
            const int minH = options.minCharHeight;
            const int spanH = cvRound(minH * options.levelSpan);
            const int maxH = l + 1 == options.pyramidLevels
                                     ? std::max(spanH, options.maxCharHeight / factor)
                                     : spanH;
            const int smallH = std::min(maxH, cvRound(minH * 2.4));
            const int maxRun = cvRound(options.runPerChar * smallH);
            const int block = (3 * smallH / 2) | 1;
            cv::Mat mean, diff;
            cv::blur(level, mean, cv::Size(block, block), cv::Point(-1, -1), cv::BORDER_REPLICATE);
            if (darkOnLight)
                cv::subtract(mean, level, diff);
            else
                cv::subtract(level, mean, diff);
            for (int c = 0; c < 3; ++c, ++pass) {
                mask.build(diff, kContrasts[c], maxRun);
                for (const auto &group : groupRows(mask.charBlobs(minH, maxH), options)) {
                    CharRow row = describeRow(group, mask, darkOnLight, c, options);
                    row.pass = pass;
                    row.chars = scaleRect(row.chars, factor);
                    row.plate = scaleRect(row.plate, factor);
                    row.charHeight *= factor;
                    rows.push_back(row);
                }
            }
        }
    }

    if (options.framed)
        addFramedRows(gray, options, pass++, rows);

    /* A plate's row survives several thresholds (the idea behind MSER); clutter tends
     * to appear at one. Count the passes that found nearly the same row. */
    const cv::Rect image(0, 0, gray.cols, gray.rows);
    for (auto &row : rows) {
        row.features[kOutside] =
                row.plate.area() > 0 ? 1.0 - double((row.plate & image).area()) / row.plate.area()
                                     : 1.0;
        std::uint64_t passes = 0;
        for (const auto &other : rows) {
            if (plateIou(row.chars, other.chars) >= 0.5)
                passes |= std::uint64_t(1) << (other.pass % 64);
        }
        row.features[kStability] = std::min(1.0, (std::popcount(passes) - 1) / 3.0);
        double score = kBias;
        for (int i = 0; i < kFeatureCount; ++i)
            score += kWeights[i] * row.features[i];
        /* A light 2:1 region with a line of ink across it is a plate more often than
         * not (50 of 61 such rows on plates-us-dev); touching bold characters inside
         * it would otherwise score as clutter by their shape. */
        if (row.framed)
            score = std::max(score, options.framedScore);
        row.score = score;
    }
    /* Equal scores (framed rows at their floor) go larger plate first: the nearer
     * vehicle, whose plate is the legible one. Then position, so the order never
     * depends on how the sort happens to run. */
    std::sort(rows.begin(), rows.end(), [](const CharRow &a, const CharRow &b) {
        if (a.score != b.score)
            return a.score > b.score;
        if (a.plate.area() != b.plate.area())
            return a.plate.area() > b.plate.area();
        return std::make_pair(a.plate.y, a.plate.x) < std::make_pair(b.plate.y, b.plate.x);
    });
    return rows;
}

namespace {

/* Fraction of a horizontal (or vertical) line segment of the work image darker (or, for
 * light characters, lighter) than the threshold: high on a plate's edge or frame and on
 * the car body around it, low on the plate's background and across its small text. */
double outsideFraction(const cv::Mat &gray, bool horizontal, int at, int from, int to,
                       int threshold, bool darkOutside)
{
    int outside = 0, total = 0;
    for (int i = from; i < to; ++i) {
        int v = horizontal ? gray.at<std::uint8_t>(at, i) : gray.at<std::uint8_t>(i, at);
        outside += darkOutside ? v < threshold : v > threshold;
        ++total;
    }
    return total ? double(outside) / total : 0.0;
}

/* Walks from `start` in steps of `step` for at most `limit` lines and returns the first
 * line that is mostly outside the plate, or -1. */
int findEdge(const cv::Mat &gray, bool horizontal, int start, int step, int limit, int from, int to,
             int threshold, bool darkOutside)
{
    const int extent = horizontal ? gray.rows : gray.cols;
    for (int k = 0, at = start; k < limit; ++k, at += step) {
        if (at < 0 || at >= extent)
            return -1;
        if (outsideFraction(gray, horizontal, at, from, to, threshold, darkOutside) >= 0.6)
            return at;
    }
    return -1;
}

/* The plate rectangle around a row, assuming a light (dark == true) or dark plate
 * background; an empty rect when the edges do not make a whole plausible plate. */
cv::Rect findPlateEdges(const cv::Mat &gray, const CharRow &row, bool dark)
{
    const cv::Rect image(0, 0, gray.cols, gray.rows);
    const cv::Rect chars = row.chars & image;
    if (chars.width < 4 || chars.height < 4)
        return {};
    /* Plate background and ink levels from the character box itself. */
    const GreyLevels levels(gray(chars));
    const int background = dark ? levels.percentile(0.85) : levels.percentile(0.15);
    const int ink = dark ? levels.percentile(0.10) : levels.percentile(0.90);
    const int contrast = std::abs(background - ink);
    if (contrast < 20)
        return {};
    const int threshold = dark ? background - contrast / 2 : background + contrast / 2;

    const double h = row.charHeight;
    const int reach = cvRound(2.2 * h);
    const int x0 = chars.x, x1 = chars.x + chars.width;
    int top = findEdge(gray, true, chars.y - 1, -1, reach, x0, x1, threshold, dark);
    int bottom = findEdge(gray, true, chars.y + chars.height, 1, reach, x0, x1, threshold, dark);
    const int y0 = top >= 0 ? top + 1 : chars.y, y1 = bottom >= 0 ? bottom : chars.y + chars.height;
    int left = findEdge(gray, false, x0 - 1, -1, cvRound(5.0 * h), y0, y1, threshold, dark);
    int right = findEdge(gray, false, x1, 1, cvRound(5.0 * h), y0, y1, threshold, dark);

    /* Only a whole rectangle is trusted: all four edges, a plate's 2:1 shape, and a
     * height a plate can have around characters of this height. Colourful plates and
     * plates on a car of their own colour show partial or misleading edges; for them
     * the box predicted from the characters stays. */
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return {};
    const double ph = bottom - top - 1, pw = right - left - 1;
    if (ph < 1.9 * h || ph > 4.5 * h || pw < 1.7 * ph || pw > 2.3 * ph)
        return {};
    return cv::Rect(left + 1, top + 1, cvRound(pw), cvRound(ph));
}

cv::Rect refinePlate(const cv::Mat &gray, const CharRow &row)
{
    /* The row's own polarity first; then the other, because bold characters that touch
     * each other are found only as the light gaps between them. */
    cv::Rect plate = findPlateEdges(gray, row, row.darkOnLight);
    if (plate.empty())
        plate = findPlateEdges(gray, row, !row.darkOnLight);
    return plate.empty() ? row.plate : plate;
}

} // namespace

cv::Rect imageBox(const cv::Mat &gray, const CharRow &row, const PlateLocator::Options &options,
                  double scale)
{
    /* A framed row's plate is already the light region itself. */
    const cv::Rect plate = options.refine && !row.framed ? refinePlate(gray, row) : row.plate;
    return cv::Rect(cvRound(plate.x / scale), cvRound(plate.y / scale),
                    cvRound(plate.width / scale), cvRound(plate.height / scale));
}

cv::Mat workImage(const cv::Mat &image, int workSize, double *scale)
{
    cv::Mat gray;
    if (image.channels() == 3)
        cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
    else if (image.channels() == 4)
        cv::cvtColor(image, gray, cv::COLOR_BGRA2GRAY);
    else
        gray = image;
    *scale = 1.0;
    const int side = std::max(gray.cols, gray.rows);
    if (workSize > 0 && side > workSize) {
        *scale = double(workSize) / side;
        cv::Mat small;
        cv::resize(gray, small, cv::Size(), *scale, *scale, cv::INTER_AREA);
        gray = small;
    }
    return gray;
}

} // namespace plate_detail

PlateLocator::PlateLocator() : PlateLocator(Options{})
{}

PlateLocator::PlateLocator(Options options) : options_(options)
{}

std::vector<PlateBox> PlateLocator::locate(const cv::Mat &image) const
{
    if (image.empty() || image.depth() != CV_8U)
        return {};
    double scale = 1.0;
    cv::Mat gray = plate_detail::workImage(image, options_.workSize, &scale);

    std::vector<plate_detail::CharRow> rows = plate_detail::proposeRows(gray, options_);
    const cv::Rect bounds(0, 0, image.cols, image.rows);
    std::vector<PlateBox> out;
    for (const auto &row : rows) {
        if (row.score < options_.minScore)
            break;
        cv::Rect box = plate_detail::imageBox(gray, row, options_, scale) & bounds;
        if (box.empty())
            continue;
        bool suppressed = false;
        for (const auto &kept : out) {
            if (plateIou(kept.box, box) > options_.nmsOverlap) {
                suppressed = true;
                break;
            }
        }
        if (suppressed)
            continue;
        out.push_back({box, row.score});
        if (static_cast<int>(out.size()) >= options_.maxCandidates)
            break;
    }
    return out;
}

double plateIou(const cv::Rect &a, const cv::Rect &b)
{
    double inter = (a & b).area();
    double uni = double(a.area()) + double(b.area()) - inter;
    return uni > 0 ? inter / uni : 0.0;
}

} // namespace stopline::pipeline
