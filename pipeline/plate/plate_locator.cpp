#include "pipeline/plate/plate_locator.h"

#include <algorithm>
#include <cmath>
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

/* Character-like connected components of a binary mask. */
std::vector<Blob> charBlobs(const cv::Mat &mask, const PlateLocator::Options &options)
{
    cv::Mat labels, stats, centroids;
    int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
    std::vector<Blob> blobs;
    for (int i = 1; i < n; ++i) {
        const int *s = stats.ptr<int>(i);
        Blob b{s[cv::CC_STAT_LEFT], s[cv::CC_STAT_TOP], s[cv::CC_STAT_WIDTH], s[cv::CC_STAT_HEIGHT],
               s[cv::CC_STAT_AREA]};
        if (b.h < options.minCharHeight || b.h > options.maxCharHeight)
            continue;
        if (b.w < 2 || b.w > 1.2 * b.h || b.w < 0.08 * b.h)
            continue;
        double fill = double(b.area) / (double(b.w) * b.h);
        if (fill < 0.18 || fill > 0.95)
            continue;
        if (b.x == 0 || b.y == 0 || b.right() >= mask.cols || b.bottom() >= mask.rows)
            continue;
        blobs.push_back(b);
    }
    return blobs;
}

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
    std::vector<std::vector<Blob>> rows;
    for (auto &g : groups) {
        if (static_cast<int>(g.size()) >= options.minChars)
            rows.push_back(std::move(g));
    }
    return rows;
}

CharRow describeRow(const std::vector<Blob> &blobs, bool darkOnLight,
                    const PlateLocator::Options &options)
{
    CharRow row;
    row.darkOnLight = darkOnLight;
    row.count = static_cast<int>(blobs.size());
    std::vector<double> heights, tops, bottoms, gaps;
    int x0 = blobs.front().x, x1 = 0, y0 = blobs.front().y, y1 = 0;
    int narrow = 0;
    for (std::size_t i = 0; i < blobs.size(); ++i) {
        const Blob &b = blobs[i];
        heights.push_back(b.h);
        tops.push_back(b.y);
        bottoms.push_back(b.bottom());
        x0 = std::min(x0, b.x);
        x1 = std::max(x1, b.right());
        y0 = std::min(y0, b.y);
        y1 = std::max(y1, b.bottom());
        if (b.w < 0.3 * b.h)
            ++narrow;
        if (i > 0)
            gaps.push_back(b.x - blobs[i - 1].right());
    }
    row.chars = cv::Rect(x0, y0, x1 - x0, y1 - y0);
    double h = median(heights);
    row.charHeight = h;
    double top = median(tops), bottom = median(bottoms);
    double dev = 0;
    for (std::size_t i = 0; i < blobs.size(); ++i)
        dev += std::abs(tops[i] - top) + std::abs(bottoms[i] - bottom);
    dev /= (2.0 * blobs.size() * h);

    double gapMean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / gaps.size();
    double gapVar = 0;
    for (double g : gaps)
        gapVar += (g - gapMean) * (g - gapMean);
    double gapCv = std::sqrt(gapVar / gaps.size()) / h;

    double n = row.count;
    double countScore = std::min(n, 7.0) - std::max(0.0, n - 9.0);
    double narrowFrac = narrow / n;
    row.score = countScore - 10.0 * dev - 2.0 * gapCv - 3.0 * narrowFrac;

    double plateH = options.plateHeightPerChar * h;
    double plateW = 2.0 * plateH;
    double cx = (x0 + x1) / 2.0;
    double cy = (top + bottom) / 2.0;
    row.plate = cv::Rect(cvRound(cx - plateW / 2), cvRound(cy - plateH / 2), cvRound(plateW),
                         cvRound(plateH));
    return row;
}

} // namespace

std::vector<CharRow> proposeRows(const cv::Mat &gray, const PlateLocator::Options &options)
{
    cv::Mat mean;
    cv::blur(gray, mean, cv::Size(31, 31), cv::Point(-1, -1), cv::BORDER_REPLICATE);
    std::vector<CharRow> rows;
    for (bool darkOnLight : {true, false}) {
        cv::Mat diff;
        if (darkOnLight)
            cv::subtract(mean, gray, diff);
        else
            cv::subtract(gray, mean, diff);
        for (int level : {8, 20, 40}) {
            cv::Mat mask;
            cv::threshold(diff, mask, level, 255, cv::THRESH_BINARY);
            for (const auto &blobs : groupRows(charBlobs(mask, options), options))
                rows.push_back(describeRow(blobs, darkOnLight, options));
        }
    }
    std::sort(rows.begin(), rows.end(),
              [](const CharRow &a, const CharRow &b) { return a.score > b.score; });
    return rows;
}

cv::Mat workImage(const cv::Mat &image, int workWidth, double *scale)
{
    cv::Mat gray;
    if (image.channels() == 3)
        cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
    else if (image.channels() == 4)
        cv::cvtColor(image, gray, cv::COLOR_BGRA2GRAY);
    else
        gray = image;
    *scale = 1.0;
    if (workWidth > 0 && gray.cols > workWidth) {
        *scale = double(workWidth) / gray.cols;
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
    cv::Mat gray = plate_detail::workImage(image, options_.workWidth, &scale);

    std::vector<plate_detail::CharRow> rows = plate_detail::proposeRows(gray, options_);
    const cv::Rect bounds(0, 0, image.cols, image.rows);
    std::vector<PlateBox> out;
    for (const auto &row : rows) {
        if (row.score < options_.minScore)
            break;
        cv::Rect box(cvRound(row.plate.x / scale), cvRound(row.plate.y / scale),
                     cvRound(row.plate.width / scale), cvRound(row.plate.height / scale));
        box &= bounds;
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
