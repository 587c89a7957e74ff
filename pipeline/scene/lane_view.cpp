#include "pipeline/scene/lane_view.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace stopline::pipeline {

LaneView::LaneView(const RoadHomography &homography, const LaneBand &lane, RoadSpan along,
                   cv::Size image, double stepM, double insetM)
    : lane_(lane), along_(along), stepM_(stepM)
{
    const int rows = std::max(1, static_cast<int>(std::floor((along.toM - along.fromM) / stepM)) + 1);
    const double half = std::max(0.2, lane.widthM() / 2 - insetM);
    const int cols = std::max(2, static_cast<int>(std::lround(2 * half / 0.1)) + 1);
    mapX_.create(rows, cols, CV_32F);
    mapY_.create(rows, cols, CV_32F);
    visible_ = cv::Mat::zeros(rows, cols, CV_8U);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const double across = lane.middleM() - half + 2 * half * c / (cols - 1);
            auto px = homography.toImage({alongAt(r), across});
            /* Outside the image: a coordinate remap() leaves at the border value. */
            float x = -10, y = -10;
            if (px && px->x >= 0 && px->y >= 0 && px->x <= image.width - 1 &&
                px->y <= image.height - 1) {
                x = static_cast<float>(px->x);
                y = static_cast<float>(px->y);
                visible_.at<std::uint8_t>(r, c) = 255;
            }
            mapX_.at<float>(r, c) = x;
            mapY_.at<float>(r, c) = y;
        }
}

cv::Mat LaneView::sample(const cv::Mat &bgr) const
{
    cv::Mat out;
    cv::remap(bgr, out, mapX_, mapY_, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    return out;
}

double LaneView::coverage(RoadSpan span, double minVisibleRow) const
{
    int total = 0, seen = 0;
    for (int r = 0; r < rows(); ++r) {
        if (!span.contains(alongAt(r)))
            continue;
        ++total;
        if (cv::countNonZero(visible_.row(r)) >= minVisibleRow * visible_.cols)
            ++seen;
    }
    return total ? static_cast<double>(seen) / total : 0;
}

std::vector<VehicleRear> LaneView::findRears(const cv::Mat &sample, const cv::Mat &background,
                                             const RearFinderOptions &o) const
{
    CV_Assert(sample.size() == visible_.size() && background.size() == visible_.size());
    cv::Mat diff;
    cv::absdiff(sample, background, diff);
    std::vector<cv::Mat> ch;
    cv::split(diff, ch);
    cv::Mat most = cv::max(cv::max(ch[0], ch[1]), ch[2]);
    cv::Mat fg = (most > o.threshold) & visible_;

    std::vector<char> occupied(static_cast<std::size_t>(rows()), 0);
    std::vector<char> inView(static_cast<std::size_t>(rows()), 0);
    for (int r = 0; r < rows(); ++r) {
        const int seen = cv::countNonZero(visible_.row(r));
        if (seen < o.minVisibleRow * visible_.cols)
            continue;
        inView[r] = 1;
        occupied[r] = cv::countNonZero(fg.row(r)) >= o.rowFraction * seen;
    }
    const int maxGap = static_cast<int>(std::lround(o.maxGapM / stepM_));
    const int minRun = static_cast<int>(std::lround(o.minRunM / stepM_));
    std::vector<VehicleRear> out;
    int r = 0;
    while (r < rows()) {
        if (!occupied[r]) {
            ++r;
            continue;
        }
        int start = r, last = r;
        for (int k = r + 1; k < rows() && k - last <= maxGap + 1; ++k)
            if (occupied[k])
                last = k;
        if (last - start + 1 >= minRun)
            out.push_back({alongAt(start), (last - start + 1) * stepM_,
                           start < 2 || !inView[start - 2]});
        r = last + 1;
    }
    return out;
}

cv::Mat medianBackground(const std::vector<cv::Mat> &samples)
{
    if (samples.empty())
        throw std::invalid_argument("medianBackground: no samples");
    const cv::Mat &first = samples.front();
    cv::Mat out(first.size(), first.type());
    const std::size_t n = samples.size();
    std::vector<std::uint8_t> values(n);
    const int width = first.cols * first.channels();
    for (int r = 0; r < first.rows; ++r) {
        std::uint8_t *dst = out.ptr<std::uint8_t>(r);
        for (int c = 0; c < width; ++c) {
            for (std::size_t i = 0; i < n; ++i)
                values[i] = samples[i].ptr<std::uint8_t>(r)[c];
            std::nth_element(values.begin(), values.begin() + n / 2, values.end());
            dst[c] = values[n / 2];
        }
    }
    return out;
}

} /* namespace stopline::pipeline */
